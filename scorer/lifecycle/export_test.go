package lifecycle

// SetHook installs a test hook run before each model scores: it may return
// an error or panic in the model's place.
func SetHook(l *Lifecycle, hook func(version string) error) { l.hook = hook }
