package compare

import "testing"

func TestDiffNote(t *testing.T) {
	for _, tc := range []struct {
		what, base, cand, want string
	}{
		{"parameters",
			`{"publishers":1,"qos":0,"rate":1000,"topic":"b/{id}","tls":{"enabled":false},"args":["-c","8"]}`,
			`{"rate":2000,"publishers":1,"qos":1,"topic":"b/{id}","tls":{"enabled":true},"args":["-c","16"],"warmup_s":10}`,
			`the parameters differ (baseline → candidate): args ["-c","8"] → ["-c","16"]; qos 0 → 1; rate 1000 → 2000; tls.enabled false → true; warmup_s (none) → 10`},
		{"tags", `{"site":"lab"}`, `{}`, `the tags differ (baseline → candidate): site "lab" → (none)`},
		{"tags", `null`, `{"a":"b"}`, `the tags differ (baseline → candidate): a (none) → "b"`},
		{"parameters", `[1]`, `{"a":1}`, `the parameters differ (baseline → candidate): [1] → {"a":1}`},
	} {
		if got := diffNote(tc.what, jsonb(tc.base), jsonb(tc.cand)); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}
