package model

import (
	"bytes"
	"fmt"
)

const resaveAsJSON = `re-save it as JSON with XGBoost: bst.save_model("model.json")`

// detect identifies the model format from its content. It never hands
// anything to leaves' legacy XGBoost binary reader, which allocates without
// bound on XGBoost 1.0+ binaries.
func detect(data []byte) (Format, error) {
	if len(data) == 0 {
		return "", fmt.Errorf("empty model file: %w", ErrCorrupt)
	}
	if bytes.HasPrefix(data, []byte("binf")) {
		return "", fmt.Errorf("legacy XGBoost binary model (\"binf\" header) is not supported; %s: %w", resaveAsJSON, ErrUnsupported)
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		rest := bytes.TrimLeft(trimmed[1:], " \t\r\n")
		if len(rest) > 0 && (rest[0] == '"' || rest[0] == '}') {
			return FormatXGBoostJSON, nil
		}
		if len(rest) > 0 && bytes.IndexByte([]byte("iUIlLdDSHTFZN$#"), rest[0]) >= 0 {
			return "", fmt.Errorf("XGBoost UBJSON model (.ubj) is not supported; %s: %w", resaveAsJSON, ErrUnsupported)
		}
		return "", fmt.Errorf("model starts with '{' but is neither JSON nor UBJSON: %w", ErrCorrupt)
	}
	if bytes.HasPrefix(trimmed, []byte("tree\n")) || bytes.HasPrefix(trimmed, []byte("tree\r\n")) {
		return FormatLightGBM, nil
	}
	head := data
	if len(head) > 4096 {
		head = head[:4096]
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return "", fmt.Errorf("binary model file (probably a legacy XGBoost binary) is not supported; %s: %w", resaveAsJSON, ErrUnsupported)
	}
	return "", fmt.Errorf("unrecognised model format: want LightGBM text (starting with \"tree\") or XGBoost JSON: %w", ErrUnsupported)
}
