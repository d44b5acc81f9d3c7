package contracts_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/fraudscore/fraudscore/contracts"
)

// asyncAPIDoc is the part of contracts/asyncapi.yaml the tests compare with
// the code. The AsyncAPI parser itself checks the document against the
// specification (make asyncapi-validate, tools/asyncapi/validate.js).
type asyncAPIDoc struct {
	AsyncAPI string `yaml:"asyncapi"`
	Channels map[string]struct {
		Address    *string `yaml:"address"`
		Parameters map[string]struct {
			Enum []string `yaml:"enum"`
		} `yaml:"parameters"`
	} `yaml:"channels"`
	Components struct {
		Messages map[string]struct {
			Headers struct {
				Required   []string                  `yaml:"required"`
				Properties map[string]asyncAPISchema `yaml:"properties"`
			} `yaml:"headers"`
			Payload  asyncAPISchema `yaml:"payload"`
			Examples []struct {
				Name    string            `yaml:"name"`
				Headers map[string]string `yaml:"headers"`
				Payload any               `yaml:"payload"`
			} `yaml:"examples"`
		} `yaml:"messages"`
		Schemas map[string]asyncAPISchema `yaml:"schemas"`
	} `yaml:"components"`
}

type asyncAPISchema struct {
	Ref     string   `yaml:"$ref"`
	Enum    []string `yaml:"enum"`
	Const   string   `yaml:"const"`
	Pattern string   `yaml:"pattern"`
}

func readAsyncAPI(t *testing.T) asyncAPIDoc {
	t.Helper()
	data, err := os.ReadFile("asyncapi.yaml")
	require.NoError(t, err)
	var doc asyncAPIDoc
	require.NoError(t, yaml.Unmarshal(data, &doc))
	require.True(t, strings.HasPrefix(doc.AsyncAPI, "3."), "asyncapi version %q", doc.AsyncAPI)
	require.NotEmpty(t, doc.Channels)
	require.NotEmpty(t, doc.Components.Messages)
	return doc
}

// codeConstants returns the string constants of package contracts (its
// non-test Go files) whose names start with prefix, by name. Reading the
// source instead of listing the constants here means a header or subject
// added to the code fails this test until the document describes it.
func codeConstants(t *testing.T, prefix string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, prefix) || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					out[name.Name] = v
				}
			}
		}
	}
	return out
}

// codeHeaders is every header name the code sets or reads: the contracts
// Header* constants and the micro service's error headers.
func codeHeaders(t *testing.T) map[string]string {
	hs := codeConstants(t, "Header")
	// The reader must see the constants the code uses (a test that can fail).
	require.Equal(t, contracts.HeaderMsgID, hs["HeaderMsgID"])
	require.Equal(t, contracts.HeaderDLQReason, hs["HeaderDLQReason"])
	hs["micro.ErrorHeader"] = micro.ErrorHeader
	hs["micro.ErrorCodeHeader"] = micro.ErrorCodeHeader
	return hs
}

func TestAsyncAPIHeadersMatchTheCode(t *testing.T) {
	doc := readAsyncAPI(t)
	inDoc := map[string]bool{}
	for name, m := range doc.Components.Messages {
		for h := range m.Headers.Properties {
			inDoc[h] = true
		}
		for _, h := range m.Headers.Required {
			assert.Contains(t, m.Headers.Properties, h, "message %s requires a header it does not describe", name)
		}
	}
	known := map[string]bool{}
	for name, h := range codeHeaders(t) {
		known[h] = true
		assert.True(t, inDoc[h], "header %s (%s) is not in asyncapi.yaml", h, name)
	}
	for h := range inDoc {
		assert.True(t, known[h], "asyncapi.yaml describes header %s, which the code does not define", h)
	}
}

func TestAsyncAPIChannelsMatchTheCode(t *testing.T) {
	doc := readAsyncAPI(t)
	subjects := codeConstants(t, "Subject")
	require.Equal(t, contracts.SubjectScore, subjects["SubjectScore"]) // the reader works
	// Every subject of the code becomes an address: a prefix (or a wildcard
	// "x.>", whose prefix is "x.") with one parameter, or an exact subject.
	want := map[string]string{} // address pattern -> constant
	for name, s := range subjects {
		switch {
		case strings.HasSuffix(s, ".>"):
			want[strings.TrimSuffix(s, ">")+"{}"] = name
		case strings.HasSuffix(s, "."):
			want[s+"{}"] = name
		default:
			require.NotContains(t, s, "*", "subject %s", name)
			want[s] = name
		}
	}
	got := map[string]string{} // address pattern -> channel
	for name, ch := range doc.Channels {
		if ch.Address == nil {
			continue // a reply inbox: no fixed address
		}
		addr := *ch.Address
		pattern := addr
		if i := strings.IndexByte(addr, '{'); i >= 0 {
			require.True(t, strings.HasSuffix(addr, "}"), "channel %s: %s: only a last-token parameter is expected", name, addr)
			param := addr[i+1 : len(addr)-1]
			assert.Contains(t, ch.Parameters, param, "channel %s", name)
			pattern = addr[:i] + "{}"
		}
		got[pattern] = name
	}
	for p, c := range want {
		assert.Contains(t, got, p, "subject %s (%s) has no channel in asyncapi.yaml", c, p)
	}
	for p, ch := range got {
		assert.Contains(t, want, p, "channel %s address %s is not a subject the code defines", ch, p)
	}
}

// TestAsyncAPIEnumerationsMatchTheCode checks the values a subscriber routes
// on: decisions, dead-letter reasons, schema names. The score service's
// error codes are the worker's: worker/scoreclient's tests check them, so
// that contracts' tests do not depend on the worker.
func TestAsyncAPIEnumerationsMatchTheCode(t *testing.T) {
	doc := readAsyncAPI(t)
	var decisions, reasons []string
	for _, d := range contracts.Decisions {
		decisions = append(decisions, string(d))
	}
	reasons = append(reasons, contracts.DeadLetterReasons[:]...)
	channel := func(prefix string) string {
		for name, ch := range doc.Channels {
			if ch.Address != nil && strings.HasPrefix(*ch.Address, prefix) {
				return name
			}
		}
		t.Fatalf("no channel with the address prefix %s", prefix)
		return ""
	}
	for _, c := range []struct {
		prefix string
		want   []string
	}{{contracts.SubjectVerdictsPrefix, decisions}, {contracts.SubjectDeadLettersPrefix, reasons}} {
		ch := doc.Channels[channel(c.prefix)]
		require.Len(t, ch.Parameters, 1, c.prefix)
		for _, p := range ch.Parameters {
			assert.ElementsMatch(t, c.want, p.Enum, "parameter of %s", c.prefix)
		}
	}
	schemas := doc.Components.Schemas
	resolve := func(s asyncAPISchema) asyncAPISchema {
		if r, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
			require.Contains(t, schemas, r)
			return schemas[r]
		}
		return s
	}
	headerSeen := map[string]bool{}
	for name, m := range doc.Components.Messages {
		for h, s := range m.Headers.Properties {
			s = resolve(s)
			switch h {
			case contracts.HeaderDecision:
				assert.ElementsMatch(t, decisions, s.Enum, "%s %s", name, h)
			case contracts.HeaderDLQReason:
				assert.ElementsMatch(t, reasons, s.Enum, "%s %s", name, h)
			case contracts.HeaderSchema:
				assert.Equal(t, contracts.VerdictSchemaV1, s.Const, "%s %s", name, h)
			case contracts.HeaderRedacted:
				assert.Equal(t, []string{contracts.RedactedPAN}, s.Enum, "%s %s", name, h)
			default:
				continue
			}
			headerSeen[h] = true
		}
	}
	assert.Len(t, headerSeen, 4, "every enumerated header was checked: %v", headerSeen)
}

// TestAsyncAPIPayloadsAreTheSchemaFiles checks that payloads reference the
// JSON Schemas in contracts/schemas (not copies) and that every schema file
// is referenced.
func TestAsyncAPIPayloadsAreTheSchemaFiles(t *testing.T) {
	doc := readAsyncAPI(t)
	refs := map[string]bool{}
	for _, m := range doc.Components.Messages {
		if r := m.Payload.Ref; r != "" {
			_, err := os.Stat(r)
			require.NoError(t, err, "payload $ref %s", r)
			refs[filepath.Clean(r)] = true
		}
	}
	files, err := filepath.Glob("schemas/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		assert.True(t, refs[f], "schema %s is not referenced by asyncapi.yaml", f)
	}
	for _, v := range []string{contracts.TransactionEventSchemaV1, contracts.VerdictSchemaV1} {
		assert.True(t, refs[filepath.Join("schemas", v+".json")], "payload of %s", v)
	}
	assert.Len(t, refs, len(files), "only schema files are referenced")
}

// TestAsyncAPIExamplesAreValid checks every message example the way the code
// would take it: event payloads pass the Go validator (contracts.Validator,
// stricter than the schema), verdict payloads contracts.DecodeVerdict, and
// headers are the message's own, with every required one, each value within
// its enumeration, constant or pattern. (The AsyncAPI parser does not check
// examples against external schemas.)
func TestAsyncAPIExamplesAreValid(t *testing.T) {
	doc := readAsyncAPI(t)
	schemas := doc.Components.Schemas
	n := 0
	for name, m := range doc.Components.Messages {
		require.NotEmpty(t, m.Examples, "message %s has no example", name)
		for _, ex := range m.Examples {
			n++
			where := name + " example " + ex.Name
			for _, h := range m.Headers.Required {
				assert.Contains(t, ex.Headers, h, "%s: required header", where)
			}
			for h, v := range ex.Headers {
				s, ok := m.Headers.Properties[h]
				if !assert.True(t, ok, "%s: header %s is not the message's", where, h) {
					continue
				}
				if r, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
					s = schemas[r]
				}
				if s.Enum != nil {
					assert.Contains(t, s.Enum, v, "%s: header %s", where, h)
				}
				if s.Const != "" {
					assert.Equal(t, s.Const, v, "%s: header %s", where, h)
				}
				if s.Pattern != "" {
					assert.Regexp(t, s.Pattern, v, "%s: header %s", where, h)
				}
			}
			data, err := json.Marshal(ex.Payload)
			require.NoError(t, err, where)
			switch filepath.Base(m.Payload.Ref) {
			case contracts.TransactionEventSchemaV1 + ".json":
				var ev contracts.TransactionEvent
				assert.NoError(t, contracts.NewValidator().DecodeEvent(data, &ev), "%s: %s", where, data)
			case contracts.SchemaFileLabelV1:
				var lb contracts.Label
				assert.NoError(t, contracts.NewValidator().DecodeLabel(data, &lb), "%s: %s", where, data)
			case contracts.VerdictSchemaV1 + ".json":
				var vd contracts.Verdict
				assert.NoError(t, contracts.DecodeVerdict(data, &vd), "%s: %s", where, data)
				if id := ex.Headers[contracts.HeaderMsgID]; id != "" {
					assert.Equal(t, vd.TransactionID, id, "%s: Nats-Msg-Id is the transaction id", where)
				}
				if d := ex.Headers[contracts.HeaderDecision]; d != "" {
					assert.Equal(t, string(vd.Decision), d, "%s: the decision header copies the payload", where)
				}
			}
		}
	}
	assert.Positive(t, n)
}
