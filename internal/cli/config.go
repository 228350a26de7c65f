package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/benchpipe/benchpipe/config"
)

// FailConfig prints a configuration that cannot be used the same way in every program, and returns code: one
// problem on one line, several under a line that counts them, each with file:line, so that all of them can be
// fixed in one go.
func FailConfig(w io.Writer, prog string, err error, code int) int {
	fmt.Fprintf(w, "%s: %s\n", prog, ConfigMessage(err))
	return code
}

// ConfigMessage is FailConfig's text without the program's name.
func ConfigMessage(err error) string {
	var ps config.Problems
	if errors.As(err, &ps) && len(ps) > 1 {
		return fmt.Sprintf("%d problems in the configuration:\n%v", len(ps), ps)
	}
	return fmt.Sprintf("configuration: %v", err)
}
