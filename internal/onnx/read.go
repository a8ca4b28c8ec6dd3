package onnx

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// ReadOps counts a model file's operators by type ("QLinearConv",
// "com.microsoft.QLinearAdd", ...), read straight from its protobuf.
func ReadOps(path string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ops := map[string]int{}
	err = fields(data, func(num protowire.Number, v []byte) error {
		if num != 7 { // ModelProto.graph
			return nil
		}
		return fields(v, func(num protowire.Number, v []byte) error {
			if num != 1 { // GraphProto.node
				return nil
			}
			var op, domain string
			err := fields(v, func(num protowire.Number, v []byte) error {
				switch num {
				case 4: // NodeProto.op_type
					op = string(v)
				case 7: // NodeProto.domain
					domain = string(v)
				}
				return nil
			})
			if domain != "" && domain != "ai.onnx" {
				op = domain + "." + op
			}
			ops[op]++
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable ONNX file: %w", path, err)
	}
	return ops, nil
}

// ReadMetadata reads a model file's metadata_props without ONNX Runtime.
func ReadMetadata(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	md := map[string]string{}
	err = fields(data, func(num protowire.Number, v []byte) error {
		if num != 14 { // ModelProto.metadata_props
			return nil
		}
		var k, val string
		err := fields(v, func(num protowire.Number, v []byte) error {
			switch num {
			case 1:
				k = string(v)
			case 2:
				val = string(v)
			}
			return nil
		})
		md[k] = val
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable ONNX file: %w", path, err)
	}
	return md, nil
}

// fields calls f with every length-delimited field of a protobuf message,
// skipping the others.
func fields(b []byte, f func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if err := f(num, v); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
