// Package compare replays a champion/challenger trial from stored verdicts:
// fed verdicts one by one (Aggregator.Add), it reports per model version the
// number of transactions scored, the decision rates and score quantiles, and
// for every pair of models that scored the same transactions (the model that
// decided plus each entry of the verdict's Shadow list) the 3x3 agreement
// matrix of their decisions and the population stability index (PSI,
// scorer/drift) of the challenger's scores against the champion's, over
// deciles of the champion's scores.
//
// It is pure aggregation: it knows nothing of NATS; `fraudscore model
// compare` reads the VERDICTS stream (worker/verdictstream) and feeds it.
// Every score is kept until Report, 8 bytes per model per verdict.
package compare
