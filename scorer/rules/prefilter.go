package rules

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
)

// prefilter is a test of one string variable against literals, taken from
// a conjunct of a rule's expression (`event.channel == "atm" && ...`,
// `event.card_country in ["NG", "GH"] && ...`): when it fails the whole
// expression is false, so the rule is not handed to CEL at all. It reads
// the event's string as it is, without boxing it.
type prefilter struct {
	id     varID
	values []string // the variable must equal one of them
}

// pass reports whether the conjunct can hold for in.
func (p *prefilter) pass(in *Input) bool {
	s := rawString(in, p.id)
	for _, v := range p.values {
		if s == v {
			return true
		}
	}
	return false
}

// rawString is the value of a string variable as the Input holds it.
func rawString(in *Input, id varID) string {
	ev := in.Event
	switch id {
	case vTransactionID:
		return ev.TransactionID
	case vCardToken:
		return ev.CardToken
	case vCurrency:
		return ev.Currency
	case vMerchantID:
		return ev.MerchantID
	case vMCC:
		return ev.MCC
	case vMerchantCountry:
		return ev.MerchantCountry
	case vChannel:
		return string(ev.Channel)
	case vCardCountry:
		return ev.CardCountry
	case vIPCountry:
		return ev.IPCountry
	case vDeviceID:
		return ev.DeviceID
	case vDecision:
		return string(in.Decision)
	case vModelVersion:
		return in.ModelVersion
	}
	return ""
}

// stringVar reports whether id is a string variable rawString reads.
func stringVar(id varID) bool {
	return id <= vDeviceID || id == vDecision || id == vModelVersion
}

// findPrefilter returns the most selective prefilter among the top-level
// conjuncts of a checked expression (the one with the fewest values), or
// nil when no conjunct compares a string variable with literals.
func findPrefilter(checked *cel.Ast) *prefilter {
	native := checked.NativeRep()
	refs := native.ReferenceMap()
	var best *prefilter
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		call := e.AsCall()
		switch call.FunctionName() {
		case operators.LogicalAnd:
			for _, a := range call.Args() {
				walk(a)
			}
			return
		case operators.Equals:
			args := call.Args()
			if len(args) != 2 {
				return
			}
			for i := range 2 {
				if id, ok := variableOf(args[i], refs); ok {
					if s, ok := stringLiteral(args[1-i]); ok {
						best = better(best, &prefilter{id: id, values: []string{s}})
					}
				}
			}
		case operators.In:
			args := call.Args()
			if len(args) != 2 || args[1].Kind() != ast.ListKind {
				return
			}
			id, ok := variableOf(args[0], refs)
			if !ok {
				return
			}
			list := args[1].AsList()
			if len(list.OptionalIndices()) > 0 {
				return
			}
			var values []string
			for _, el := range list.Elements() {
				s, ok := stringLiteral(el)
				if !ok {
					return
				}
				values = append(values, s)
			}
			best = better(best, &prefilter{id: id, values: values})
		}
	}
	walk(native.Expr())
	return best
}

// better returns the prefilter with fewer values (the first on a tie).
func better(a, b *prefilter) *prefilter {
	if a == nil || len(b.values) < len(a.values) {
		return b
	}
	return a
}

// variableOf returns the string variable e refers to.
func variableOf(e ast.Expr, refs map[int64]*ast.ReferenceInfo) (varID, bool) {
	if e.Kind() != ast.IdentKind && e.Kind() != ast.SelectKind {
		return 0, false
	}
	r, ok := refs[e.ID()]
	if !ok || r.Value != nil {
		return 0, false
	}
	id, ok := lookup(r.Name)
	if !ok || !stringVar(id) {
		return 0, false
	}
	return id, true
}

// stringLiteral returns the string constant e holds.
func stringLiteral(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}
