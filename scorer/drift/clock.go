package drift

import "github.com/fraudscore/fraudscore/scorer/features"

// Compared reports whether a Monitor compares the live histogram of the
// named feature with its baseline. Features that follow the wall clock
// (hour of day, day of week) are not compared: a window of the last N events
// covers seconds to hours of the clock (10,000 events at 1,000 per second
// are 10 seconds), never the days the training data spans, so their PSI
// would measure the time of day, not drift. Their baselines stay in the
// metadata, for the record.
func Compared(feature string) bool {
	switch feature {
	case features.HourOfDay, features.DayOfWeek:
		return false
	}
	return true
}
