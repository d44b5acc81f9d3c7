package modelstore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fraudscore/fraudscore/scorer/modelstore"
)

// copyRepoModels copies the repository's model versions and its latest
// link into a temporary store and returns it (with a function removing it).
func copyRepoModels() (*modelstore.Store, func(), error) {
	dir, err := os.MkdirTemp("", "modelstore-example")
	if err != nil {
		return nil, nil, err
	}
	done := func() { os.RemoveAll(dir) }
	const src = "../../models"
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, done, err
	}
	for _, e := range entries {
		if e.IsDir() && modelstore.ValidVersionName(e.Name()) {
			if err := os.CopyFS(filepath.Join(dir, e.Name()), os.DirFS(filepath.Join(src, e.Name()))); err != nil {
				return nil, done, err
			}
		}
	}
	latest, err := os.Readlink(filepath.Join(src, modelstore.LatestLink))
	if err != nil {
		return nil, done, err
	}
	return modelstore.Open(dir), done, os.Symlink(latest, filepath.Join(dir, modelstore.LatestLink))
}

// A challenger's trial: set it beside latest, then promote it, which ends
// the trial.
func ExampleStore_SetChallenger() {
	s, done, err := copyRepoModels()
	if done != nil {
		defer done()
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	latest, _ := s.Latest()
	vs, _ := s.Versions()
	older := vs[0] // the repository holds an older version beside latest

	err = s.SetChallenger(latest)
	fmt.Println("latest as challenger refused:", errors.Is(err, modelstore.ErrChallengerIsLatest))

	if err := s.SetChallenger(older); err != nil { // the checks of Promote
		fmt.Println(err)
		return
	}
	c, _ := s.Challenger()
	fmt.Println("challenger is the older version:", c == older)

	if err := s.Promote(older); err != nil {
		fmt.Println(err)
		return
	}
	_, err = s.Challenger()
	fmt.Println("promoting it cleared the link:", errors.Is(err, modelstore.ErrNoChallenger))

	fmt.Println("clearing again is fine:", s.ClearChallenger() == nil)
	// Output:
	// latest as challenger refused: true
	// challenger is the older version: true
	// promoting it cleared the link: true
	// clearing again is fine: true
}
