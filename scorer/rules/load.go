package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"go.yaml.in/yaml/v3"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/features"
)

// Limits of a rule set.
const (
	// MaxRuleCost is the largest estimated worst-case cost of one
	// expression, in CEL cost units (about one per comparison or list
	// element visited).
	MaxRuleCost = 1000
	// MaxRules is the most rules a set may hold.
	MaxRules = 500
	// MaxFileBytes bounds rules.yaml.
	MaxFileBytes = 1 << 20
	// maxStringSize is the longest string the contract lets an event carry
	// (card_token, device_id), the size the cost estimate assumes.
	maxStringSize = contracts.MaxCardTokenLen
	// maxReasons is the most reason codes a verdict carries.
	maxReasons = features.Count
)

// exampleReview and exampleDecline turn an example's score into the
// model's decision when the example does not give one.
const (
	exampleReview  = 0.5
	exampleDecline = 0.8
)

// Parse loads a rule set from the contents of rules.yaml: every rule is
// compiled, type-checked, cost-checked and its examples run. file names
// the source in errors; version is the set's version. The first problem
// refuses the whole set with a *RuleError.
func Parse(file string, raw []byte, version string) (*Set, error) {
	return parse(file, raw, version, true)
}

// parse is Parse; examples false skips the examples (internal tests).
func parse(file string, raw []byte, version string, examples bool) (*Set, error) {
	refuse := func(rule string, line int, err error) error {
		return &RuleError{File: file, Rule: rule, Line: line, Err: err}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, refuse("", yamlLine(err), fmt.Errorf("%w: %w", ErrYAML, err))
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, refuse("", 1, fmt.Errorf("%w: want a mapping with a rules list", ErrYAML))
	}
	root := doc.Content[0]
	var list *yaml.Node
	if err := eachKey(root, func(k, v *yaml.Node) error {
		if k.Value != "rules" {
			return refuse("", k.Line, fmt.Errorf("%w: unknown key %q (want rules)", ErrYAML, k.Value))
		}
		list = v
		return nil
	}); err != nil {
		return nil, err
	}
	if list == nil || list.Kind != yaml.SequenceNode || len(list.Content) == 0 || len(list.Content) > MaxRules {
		return nil, refuse("", root.Line, fmt.Errorf("%w: want a list of 1 to %d rules", ErrNoRules, MaxRules))
	}
	env, err := cel.NewEnv(envOptions()...)
	if err != nil {
		return nil, fmt.Errorf("rules: CEL environment: %w", err)
	}
	s := &Set{version: version, file: file}
	seen := map[string]int{}
	for n, node := range list.Content {
		c, err := compileRule(env, node, n, examples)
		if err != nil {
			var re *RuleError
			if errors.As(err, &re) {
				re.File = file
			}
			return nil, err
		}
		if first, dup := seen[c.Name]; dup {
			return nil, refuse(c.Name, c.Line, fmt.Errorf("%w: also at line %d", ErrDuplicate, first))
		}
		seen[c.Name] = c.Line
		i := len(s.rules)
		s.rules = append(s.rules, *c)
		if c.Action == ActionAllow {
			s.allow = append(s.allow, i)
		} else {
			s.others = append(s.others, i)
		}
	}
	return s, nil
}

// yamlLine extracts "line N" from a yaml.v3 error, 0 when there is none.
func yamlLine(err error) int {
	var line int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &line)
	}
	return line
}

// eachKey calls f with each key and value of mapping m.
func eachKey(m *yaml.Node, f func(k, v *yaml.Node) error) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if err := f(m.Content[i], m.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// ruleYAML is a rule's fields as written, with the nodes errors point to.
type ruleYAML struct {
	name, description, expression, action string
	exprNode, actionNode, examples        *yaml.Node
}

// compileRule reads, compiles and checks the nth rule (0-based) of a set.
func compileRule(env *cel.Env, node *yaml.Node, n int, examples bool) (*compiled, error) {
	label := fmt.Sprintf("#%d", n+1)
	refuse := func(line int, err error) error { return &RuleError{Rule: label, Line: line, Err: err} }
	if node.Kind != yaml.MappingNode {
		return nil, refuse(node.Line, fmt.Errorf("%w: a rule is a mapping", ErrYAML))
	}
	var ry ruleYAML
	err := eachKey(node, func(k, v *yaml.Node) error {
		str := func(dst *string) error {
			if v.Kind != yaml.ScalarNode {
				return refuse(v.Line, fmt.Errorf("%w: %s must be a string", ErrYAML, k.Value))
			}
			*dst = v.Value
			return nil
		}
		switch k.Value {
		case "name":
			return str(&ry.name)
		case "description":
			return str(&ry.description)
		case "expression":
			ry.exprNode = v
			return str(&ry.expression)
		case "action":
			ry.actionNode = v
			return str(&ry.action)
		case "examples":
			ry.examples = v
			return nil
		}
		return refuse(k.Line, fmt.Errorf("%w: unknown key %q (want name, description, expression, action, examples)", ErrYAML, k.Value))
	})
	if err != nil {
		return nil, err
	}
	if !contracts.ValidRuleName(ry.name) {
		return nil, refuse(node.Line, fmt.Errorf("%w: %q must match ^[a-z][a-z0-9_]{0,63}$", ErrName, ry.name))
	}
	label = ry.name
	c := &compiled{Rule: Rule{Name: ry.name, Description: ry.description, Expression: ry.expression, Line: node.Line}}
	if ry.exprNode == nil || strings.TrimSpace(ry.expression) == "" {
		return nil, refuse(node.Line, fmt.Errorf("%w: no expression", ErrSyntax))
	}
	if c.prg, c.Cost, c.Variables, c.pre, err = compileExpression(env, ry.expression); err != nil {
		return nil, refuse(exprLine(ry.exprNode, err), err)
	}
	if ry.actionNode == nil {
		return nil, refuse(node.Line, fmt.Errorf("%w: no action (want approve, review, decline or allow)", ErrAction))
	}
	var ok bool
	if c.Action, ok = parseAction(ry.action); !ok {
		return nil, refuse(ry.actionNode.Line, fmt.Errorf("%w %q (want approve, review, decline or allow)", ErrAction, ry.action))
	}
	if !examples {
		return c, nil
	}
	if ry.examples == nil {
		return nil, refuse(node.Line, fmt.Errorf("%w: a rule needs at least one example it matches and one it does not", ErrExamples))
	}
	if c.Examples, err = runExamples(c, ry.examples, refuse); err != nil {
		return nil, err
	}
	return c, nil
}

// celError is a compile error with its line within the expression.
type celError struct {
	err  error
	line int
}

func (e *celError) Error() string { return e.err.Error() }
func (e *celError) Unwrap() error { return e.err }

// compileExpression parses, checks and plans one expression and returns
// its program and estimated worst-case cost.
func compileExpression(env *cel.Env, expr string) (cel.Program, uint64, []string, *prefilter, error) {
	parsed, iss := env.Parse(expr)
	if iss.Err() != nil {
		return nil, 0, nil, nil, issueError(ErrSyntax, expr, iss)
	}
	checked, iss := env.Check(parsed)
	if iss.Err() != nil {
		sentinel := ErrType
		if e := iss.Errors(); len(e) > 0 && strings.Contains(e[0].Message, "undeclared reference") {
			sentinel = ErrUnknownName
		}
		return nil, 0, nil, nil, issueError(sentinel, expr, iss)
	}
	if !checked.OutputType().IsExactType(cel.BoolType) {
		return nil, 0, nil, nil, fmt.Errorf("%w: it is %s", ErrNotBool, checked.OutputType())
	}
	est, err := env.EstimateCost(checked, sizes{})
	if err != nil {
		return nil, 0, nil, nil, fmt.Errorf("%w: estimate: %w", ErrCost, err)
	}
	if est.Max > MaxRuleCost {
		return nil, 0, nil, nil, fmt.Errorf("%w: estimated worst case %d, limit %d", ErrCost, est.Max, MaxRuleCost)
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, 0, nil, nil, fmt.Errorf("%w: %w", ErrType, err)
	}
	var names []string
	for _, r := range checked.NativeRep().ReferenceMap() {
		if _, ok := declared().index[r.Name]; ok && !slices.Contains(names, r.Name) {
			names = append(names, r.Name)
		}
	}
	slices.Sort(names)
	return prg, est.Max, names, findPrefilter(checked), nil
}

// dottedName matches a name as written, dots included.
var dottedName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*`)

// issueError wraps sentinel with the first CEL issue and its line within
// expr (at most its last line: CEL puts an unexpected end after it). An
// unknown name is quoted whole (event.amount, not event).
func issueError(sentinel error, expr string, iss *cel.Issues) error {
	errs := iss.Errors()
	if len(errs) == 0 {
		return fmt.Errorf("%w: %w", sentinel, iss.Err())
	}
	e := errs[0]
	lines := strings.Split(strings.TrimRight(expr, "\n"), "\n")
	line, col := e.Location.Line(), e.Location.Column()
	line = max(1, min(line, len(lines)))
	msg := e.Message
	if errors.Is(sentinel, ErrUnknownName) && col >= 0 && col < len(lines[line-1]) {
		if name := dottedName.FindString(lines[line-1][col:]); name != "" {
			msg = fmt.Sprintf("%q is not a declared variable (docs/rules.md lists them)", name)
		}
	}
	return &celError{err: fmt.Errorf("%w: %s (column %d)", sentinel, msg, col+1), line: line}
}

// exprLine is the line in the YAML of a compile error in the expression
// held by node.
func exprLine(node *yaml.Node, err error) int {
	var ce *celError
	if !errors.As(err, &ce) || ce.line < 1 {
		return node.Line
	}
	line := node.Line + ce.line - 1
	if node.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		line++ // a block scalar starts on the line after its indicator
	}
	return line
}

// sizes bounds the inputs whose size CEL cannot know, from the contract's
// limits: every string variable and the reason list.
type sizes struct{}

func (sizes) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	if path[0] == "reasons" {
		return &checker.SizeEstimate{Min: 0, Max: maxReasons}
	}
	return &checker.SizeEstimate{Min: 0, Max: maxStringSize}
}

func (sizes) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

// exampleYAML is one example as written.
type exampleYAML struct {
	Match      *bool              `yaml:"match"`
	Event      map[string]any     `yaml:"event"`
	Score      *float64           `yaml:"score"`
	Decision   string             `yaml:"decision"`
	Reasons    []string           `yaml:"reasons"`
	Features   map[string]float64 `yaml:"features"`
	Challenger *struct {
		Score        float64 `yaml:"score"`
		Decision     string  `yaml:"decision"`
		ModelVersion string  `yaml:"model_version"`
	} `yaml:"challenger"`
}

// runExamples runs a rule's examples and returns how many there are. At
// least one must match and one must not.
func runExamples(c *compiled, node *yaml.Node, refuse func(int, error) error) (int, error) {
	if node.Kind != yaml.SequenceNode {
		return 0, refuse(node.Line, fmt.Errorf("%w: examples must be a list", ErrYAML))
	}
	var matches, misses int
	one := &Set{rules: []compiled{*c}}
	for _, en := range node.Content {
		in, want, err := exampleInput(en)
		if err != nil {
			return 0, refuse(en.Line, err)
		}
		got, err := one.Matches(0, in)
		if err != nil {
			return 0, refuse(en.Line, fmt.Errorf("%w: evaluation error: %w", ErrExample, err))
		}
		if got != want {
			return 0, refuse(en.Line, fmt.Errorf("%w: says match: %t, the expression gives %t", ErrExample, want, got))
		}
		if want {
			matches++
		} else {
			misses++
		}
	}
	if matches == 0 || misses == 0 {
		return 0, refuse(node.Line, fmt.Errorf("%w: %d example(s) it matches and %d it does not; it needs at least one of each", ErrExamples, matches, misses))
	}
	return matches + misses, nil
}

// ExampleEvent returns the event an example starts from before its own
// fields apply: a valid ecommerce payment of 10.00 EUR in France.
func ExampleEvent() contracts.TransactionEvent {
	return contracts.TransactionEvent{
		SchemaVersion: contracts.TransactionEventSchemaV1, TransactionID: "example", EventTime: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		CardToken: "tok_example", AmountMinor: 1000, Currency: "EUR", MerchantID: "m_example", MCC: "5411",
		MerchantCountry: "FR", Channel: contracts.ChannelECommerce, CardCountry: "FR", AccountAgeDays: 365,
	}
}

// exampleInput builds the input of one example and what it must give.
func exampleInput(n *yaml.Node) (*Input, bool, error) {
	var ex exampleYAML
	if n.Kind != yaml.MappingNode {
		return nil, false, fmt.Errorf("%w: an example is a mapping", ErrYAML)
	}
	if err := eachKey(n, func(k, _ *yaml.Node) error {
		switch k.Value {
		case "match", "event", "score", "decision", "reasons", "features", "challenger":
			return nil
		}
		return fmt.Errorf("%w: unknown example key %q (want match, event, score, decision, reasons, features, challenger)", ErrYAML, k.Value)
	}); err != nil {
		return nil, false, err
	}
	if err := n.Decode(&ex); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrYAML, err)
	}
	if ex.Match == nil {
		return nil, false, fmt.Errorf("%w: an example says match: true or match: false", ErrExample)
	}
	ev := ExampleEvent()
	if ex.Event != nil {
		raw, err := json.Marshal(ex.Event)
		if err != nil {
			return nil, false, fmt.Errorf("%w: event: %w", ErrExample, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			return nil, false, fmt.Errorf("%w: event: %w", ErrExample, err)
		}
	}
	in := &Input{Event: &ev, Reasons: ex.Reasons, ModelVersion: "example"}
	if ex.Score != nil {
		in.Score = *ex.Score
	}
	if !(in.Score >= 0 && in.Score <= 1) {
		return nil, false, fmt.Errorf("%w: score %g is not in [0, 1]", ErrExample, in.Score)
	}
	in.Decision = exampleDecision(in.Score)
	if ex.Decision != "" {
		in.Decision = contracts.Decision(ex.Decision)
		if !in.Decision.Valid() {
			return nil, false, fmt.Errorf("%w: decision %q (want approve, review or decline)", ErrExample, ex.Decision)
		}
	}
	if ex.Features != nil {
		var f [features.Count]float64
		for i := range f {
			f[i] = math.NaN()
		}
		names := features.Names()
		for name, v := range ex.Features {
			i := slices.Index(names, name)
			if i < 0 {
				return nil, false, fmt.Errorf("%w: unknown feature %q", ErrExample, name)
			}
			f[i] = v
		}
		in.Features = &f
	}
	if c := ex.Challenger; c != nil {
		sr := &contracts.ShadowResult{ModelVersion: c.ModelVersion, PolicyVersion: "example", Score: c.Score, Decision: contracts.Decision(c.Decision)}
		if sr.ModelVersion == "" {
			sr.ModelVersion = "challenger"
		}
		if c.Decision == "" {
			sr.Decision = exampleDecision(c.Score)
		}
		in.Challenger = sr
	}
	return in, *ex.Match, nil
}

// exampleDecision is the decision the example thresholds give score.
func exampleDecision(score float64) contracts.Decision {
	switch {
	case score >= exampleDecline:
		return contracts.DecisionDecline
	case score >= exampleReview:
		return contracts.DecisionReview
	}
	return contracts.DecisionApprove
}
