// Package rules is fraudscore's analyst rules (ADR 0016): rule sets written
// in CEL over a transaction event and the model's result, loaded from
// versioned directories (policies/vYYYYMMDD_HHMMSS/rules.yaml behind a
// latest link, the layout of the model store), compiled, type-checked and
// cost-checked at load, and evaluated after the model decides:
//
//   - allow rules first, in file order: the first that matches approves,
//     whatever the model decided;
//   - otherwise the most severe of the model's decision and the actions of
//     the rules that match (approve < review < decline); a rule decides
//     only when it raises the model's decision, and the verdict names the
//     first such rule in file order.
//
// A set is loaded whole or refused whole: every rule must compile to a bool
// over the declared variables (Variables), stay under the cost limit
// (MaxRuleCost), name a known action and ship examples that behave as they
// say; a refusal is a *RuleError naming the rule and its line. The package
// knows nothing of NATS or HTTP; scorer/lifecycle serves a set and
// cmd/fraudscore's policy command manages the store.
package rules
