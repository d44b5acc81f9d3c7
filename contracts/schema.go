package contracts

import (
	"embed"
	"fmt"
)

// Schema file names, as accepted by Schema.
const (
	SchemaFileTransactionEventV1 = "transaction_event.v1.json"
	SchemaFileVerdictV1          = "verdict.v1.json"
)

// schemaFS holds the JSON Schemas (draft 2020-12) of the contracts. They are
// documentation and a tool for producers and tests; the hot path validates
// with hand-written Go that tests keep in agreement with them.
//
//go:embed schemas/*.json
var schemaFS embed.FS

// Schema returns a copy of the JSON Schema named name: a file name such as
// "transaction_event.v1.json" or a schema_version such as
// "transaction_event.v1".
func Schema(name string) ([]byte, error) {
	switch name {
	case TransactionEventSchemaV1, VerdictSchemaV1, LabelSchemaV1:
		name += ".json"
	}
	b, err := schemaFS.ReadFile("schemas/" + name)
	if err != nil {
		return nil, fmt.Errorf("contracts: schema %q: %w", name, err)
	}
	return b, nil
}

// SchemaNames lists the embedded schema file names.
func SchemaNames() []string {
	return []string{SchemaFileTransactionEventV1, SchemaFileVerdictV1, SchemaFileLabelV1}
}
