package contracts

// Default subjects. Deployments may change the prefixes through
// configuration; these are the values every component uses by default.
const (
	// SubjectTransactions is the wildcard of the input stream; payment systems
	// publish to SubjectTransactionsPrefix + "<anything>", for example
	// payments.transactions.card.
	SubjectTransactions       = "payments.transactions.>"
	SubjectTransactionsPrefix = "payments.transactions."
	// SubjectVerdictsPrefix + decision is where verdicts go, so a dashboard can
	// subscribe to fraud.verdicts.decline only.
	SubjectVerdictsPrefix = "fraud.verdicts."
	SubjectVerdicts       = "fraud.verdicts.>"
	// SubjectDeadLettersPrefix + reason is where dead letters go.
	SubjectDeadLettersPrefix = "fraud.dlq."
	SubjectDeadLetters       = "fraud.dlq.>"
	// SubjectScore is the request-reply subject of the score endpoint.
	SubjectScore = "fraud.score"
	// SubjectLabelsPrefix + source is where labels (label.v1) go, for
	// example fraud.labels.chargeback (see LabelSubject).
	SubjectLabelsPrefix = "fraud.labels."
	SubjectLabels       = "fraud.labels.>"
	// SubjectArchivePrefix + source is where a worker with FRAUDSCORE_ARCHIVE
	// on stores a copy of each scored transaction, source being the input
	// subject after SubjectTransactionsPrefix (fraud.archive.card).
	SubjectArchivePrefix = "fraud.archive."
	SubjectArchive       = "fraud.archive.>"
)

// VerdictSubject returns the subject a verdict with decision d is published on.
func VerdictSubject(prefix string, d Decision) string { return prefix + string(d) }

// Header names set on fraudscore messages.
const (
	// HeaderMsgID is JetStream's de-duplication header; fraudscore sets it to
	// the transaction id on verdicts.
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderModelVersion carries the model version on a verdict.
	HeaderModelVersion = "Fraudscore-Model-Version"
	// HeaderPolicyVersion carries the policy version on a verdict.
	HeaderPolicyVersion = "Fraudscore-Policy-Version"
	// HeaderDecision carries the decision on a verdict.
	HeaderDecision = "Fraudscore-Decision"
	// HeaderSchema names the contract of the payload.
	HeaderSchema = "Fraudscore-Schema"
	// Dead-letter headers.
	HeaderDLQReason        = "Fraudscore-Dlq-Reason"
	HeaderDLQDetail        = "Fraudscore-Dlq-Detail"
	HeaderDLQSubject       = "Fraudscore-Dlq-Original-Subject"
	HeaderDLQStreamSeq     = "Fraudscore-Dlq-Stream-Seq"
	HeaderDLQDeliveries    = "Fraudscore-Dlq-Deliveries"
	HeaderDLQWorker        = "Fraudscore-Dlq-Worker"
	HeaderDLQTransactionID = "Fraudscore-Dlq-Transaction-Id"
	// HeaderRedacted is set on a message whose payload or headers fraudscore
	// altered to mask card numbers (see RedactPANs); its value is
	// RedactedPAN. A redacted payload is not the original: tools must not
	// replay it as if it were.
	HeaderRedacted = "Fraudscore-Redacted"
	// HeaderTraceparent is the W3C Trace Context traceparent header. When an
	// incoming transaction or request carries a valid one, fraudscore sets it
	// on the verdict, the dead letter and the reply, with the same trace id
	// and flags and fraudscore's own span id as parent id (see
	// ParseTraceparent).
	HeaderTraceparent = "traceparent"
	// HeaderTracestate is the W3C Trace Context tracestate header, carried
	// unchanged beside a valid traceparent.
	HeaderTracestate = "tracestate"
)

// RedactedPAN is the value of HeaderRedacted when card numbers were masked.
const RedactedPAN = "pan"

// Dead-letter reasons; each is the last token of the dead-letter subject.
const (
	ReasonMalformed     = "malformed"      // not JSON, or wrong JSON types
	ReasonInvalid       = "invalid"        // JSON that violates the contract
	ReasonTooLarge      = "too_large"      // payload above the size limit
	ReasonMaxDeliveries = "max_deliveries" // delivered MaxDeliver times without success
)

// DeadLetterReasons lists every dead-letter reason, the bounded label values
// of a dead-letter counter.
var DeadLetterReasons = [...]string{ReasonMalformed, ReasonInvalid, ReasonTooLarge, ReasonMaxDeliveries}
