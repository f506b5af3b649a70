// Filebeat (OSS distribution) built from the Go module github.com/elastic/beats/v7, for logferry's
// interop tests only (tests/peers/beats/setup.sh builds it; filebeat.sh runs it). This is a copy of
// beats' own filebeat/main.go at the version go.mod requires.
package main

import (
	"os"

	"github.com/elastic/beats/v7/filebeat/cmd"
	inputs "github.com/elastic/beats/v7/filebeat/input/default-inputs"
)

func main() {
	if err := cmd.Filebeat(inputs.Init, cmd.FilebeatSettings()).Execute(); err != nil {
		os.Exit(1)
	}
}
