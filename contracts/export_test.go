package contracts

// DecodeEventReference exposes the encoding/json-only decoder (DecodeEvent
// without its fast path) to the external tests.
func (v *Validator) DecodeEventReference(data []byte, ev *TransactionEvent) error {
	return v.decodeEventReference(data, ev)
}

// DecodeEventReportingFast is DecodeEvent that also reports whether the
// hand-written fast path decoded the payload.
func (v *Validator) DecodeEventReportingFast(data []byte, ev *TransactionEvent) (fast bool, err error) {
	return v.decodeEvent(data, ev, true)
}
