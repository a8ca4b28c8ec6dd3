package infer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/ort"
)

// runner owns one ONNX Runtime session with fixed-size input and output
// tensors. Running it only refills the input tensor's Go-side buffer and calls
// into ONNX Runtime, so nothing is allocated per run.
type runner struct {
	session  *onnxruntime.AdvancedSession
	input    onnxruntime.Value
	inU8     []uint8   // input tensor data when Element == Uint8
	inF32    []float32 // input tensor data when Element == Float32
	output   *onnxruntime.Tensor[float32]
	outDim   int // output elements per image
	provider string
}

func (r *runner) close() {
	if r.session != nil {
		r.session.Destroy()
		r.session = nil
	}
	if r.input != nil {
		r.input.Destroy()
		r.input = nil
	}
	if r.output != nil {
		r.output.Destroy()
		r.output = nil
	}
}

// inspected is what a model file declares, checked against what infer needs.
type inspected struct {
	contract  Contract
	batchDim  int64 // the input's declared batch size; -1 when symbolic
	outShape  onnxruntime.Shape
	outPerImg int
}

const expectedInput = "one input tensor of rank 4, uint8 or float32, NHWC [N,H,W,3] or NCHW [N,3,H,W] (or 1 channel) with fixed H and W"

// inspect checks modelPath is an ONNX classifier infer can feed and builds its
// contract. output names the output to read ("" picks "probabilities", else
// the first output); labels are required only when needLabels is set.
func inspect(modelPath, output string, needLabels bool) (*inspected, error) {
	mf := modelFile(modelPath)
	if err := mf.checkFile(); err != nil {
		return nil, err
	}
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("infer: creating session options: %w", err)
	}
	defer opts.Destroy()
	// The inspection session is thrown away: skip graph optimisation.
	if err := opts.SetGraphOptimizationLevel(onnxruntime.GraphOptimizationLevelDisableAll); err != nil {
		return nil, fmt.Errorf("infer: setting graph optimisation level: %w", err)
	}
	ins, outs, err := onnxruntime.GetInputOutputInfoWithOptions(modelPath, opts)
	if err != nil {
		reason := strings.TrimSpace(strings.TrimPrefix(ortReason(err), "Load model from "+modelPath+" failed:"))
		return nil, mf.err("ONNX Runtime cannot load it: "+reason, "an ONNX model file (ModelProto) using standard ai.onnx operators")
	}
	c, dims, err := mf.input(ins)
	if err != nil {
		return nil, err
	}
	meta, err := readMetadata(modelPath, opts)
	if err != nil {
		return nil, mf.err("reading its metadata: "+ortReason(err), "an ONNX model file whose metadata_props ONNX Runtime can read")
	}
	if err := mf.inputFromMeta(&c, meta, dims); err != nil {
		return nil, err
	}
	out, perImg, err := mf.output(outs, output)
	if err != nil {
		return nil, err
	}
	c.OutputName = out.Name
	if err := mf.labels(&c, meta); err != nil {
		return nil, err
	}
	if needLabels {
		if err := mf.checkLabels(c, out, perImg); err != nil {
			return nil, err
		}
	}
	return &inspected{contract: c, batchDim: dims[0], outShape: out.Dimensions, outPerImg: int(perImg)}, nil
}

// modelFile is the path of the model inspect checks.
type modelFile string

// err is a ModelError about the file.
func (mf modelFile) err(problem, expected string) error {
	return &ModelError{Path: string(mf), Problem: problem, Expected: expected}
}

// checkFile checks the path names a readable file.
func (mf modelFile) checkFile() error {
	st, err := os.Stat(string(mf))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return mf.err("file does not exist", "the path of an .onnx model file")
		}
		return mf.err(err.Error(), "a readable .onnx model file")
	}
	if st.IsDir() {
		return mf.err("is a directory", "the path of an .onnx model file inside it")
	}
	return nil
}

// input checks the model has one rank-4 uint8 or float32 input with a
// usable batch dimension, and returns the contract's input name and element
// type and the input's dimensions.
func (mf modelFile) input(ins []onnxruntime.InputOutputInfo) (Contract, []int64, error) {
	if len(ins) != 1 {
		names := make([]string, len(ins))
		for i := range ins {
			names[i] = ins[i].Name
		}
		return Contract{}, nil, mf.err(fmt.Sprintf("has %d inputs %v", len(ins), names), expectedInput)
	}
	in := ins[0]
	if in.OrtValueType != onnxruntime.ONNXTypeTensor {
		return Contract{}, nil, mf.err(fmt.Sprintf("input %q is a %s, not a tensor", in.Name, in.OrtValueType), expectedInput)
	}
	dims := in.Dimensions
	if len(dims) != 4 {
		return Contract{}, nil, mf.err(fmt.Sprintf("input %q has rank %d, shape %v", in.Name, len(dims), dims), expectedInput)
	}
	c := Contract{InputName: in.Name}
	switch in.DataType {
	case onnxruntime.TensorElementDataTypeUint8:
		c.Element = Uint8
	case onnxruntime.TensorElementDataTypeFloat:
		c.Element = Float32
	default:
		return Contract{}, nil, mf.err(fmt.Sprintf("input %q has element type %s", in.Name, elemName(in.DataType)), expectedInput)
	}
	if dims[0] != -1 && dims[0] < 1 {
		return Contract{}, nil, mf.err(fmt.Sprintf("input %q has batch dimension %d", in.Name, dims[0]), "a batch dimension of 1 or a symbolic one")
	}
	return c, dims, nil
}

// inputFromMeta fills the contract's layout, channels, size, colour,
// scaling and output kind from the metadata and the input's dimensions.
func (mf modelFile) inputFromMeta(c *Contract, meta map[string]string, dims []int64) error {
	var err error
	if c.Layout, err = parseLayout(meta[KeyInputLayout], dims); err != nil {
		if _, declared := meta[KeyInputLayout]; declared {
			return mf.err(err.Error(), "metadata input_layout NHWC or NCHW (or none, to infer it from the input shape)")
		}
		return mf.err(err.Error(), expectedInput)
	}
	ci := c.Layout.channelIndex()
	c.Channels = int(dims[ci])
	if c.Channels != 3 && c.Channels != 1 {
		return mf.err(fmt.Sprintf("input %q shape %v has %d channels at the %s channel position", c.InputName, dims, dims[ci], c.Layout), expectedInput)
	}
	hi, wi := 1, 2
	if c.Layout == NCHW {
		hi, wi = 2, 3
	}
	if dims[hi] < 1 || dims[wi] < 1 {
		return mf.err(fmt.Sprintf("input %q shape %v has a symbolic height or width", c.InputName, dims), "fixed H and W in the input shape, e.g. [N,224,224,3]")
	}
	c.Height, c.Width = int(dims[hi]), int(dims[wi])
	if c.Color, err = parseColor(meta[KeyInputColor]); err != nil {
		return mf.err(err.Error(), "RGB or BGR")
	}
	if c.Element == Float32 {
		if c.Scale, err = parsePerChannel(KeyInputScale, meta[KeyInputScale], 1.0/255); err != nil {
			return mf.err(err.Error(), "e.g. input_scale=0.0078431 or 0.0171,0.0175,0.0174")
		}
		if c.Offset, err = parsePerChannel(KeyInputOffset, meta[KeyInputOffset], 0); err != nil {
			return mf.err(err.Error(), "e.g. input_offset=-1 or -2.118,-2.036,-1.804")
		}
	}
	if c.OutputKind, err = parseOutputKind(meta[KeyOutputKind]); err != nil {
		return mf.err(err.Error(), "probabilities or logits")
	}
	return nil
}

const expectedOutput = "a float32 output tensor [N,K] (or [N,K,1,1]) with a fixed K"

// output picks the output to read (named, else "probabilities", else the
// first), checks it is a float32 tensor with fixed dimensions after the
// batch, and returns it with its elements per image.
func (mf modelFile) output(outs []onnxruntime.InputOutputInfo, name string) (*onnxruntime.InputOutputInfo, int64, error) {
	var outInfo *onnxruntime.InputOutputInfo
	names := make([]string, len(outs))
	for i := range outs {
		names[i] = outs[i].Name
	}
	switch {
	case name != "":
		if i := slices.Index(names, name); i >= 0 {
			outInfo = &outs[i]
		} else {
			return nil, 0, mf.err(fmt.Sprintf("has no output %q (outputs: %s)", name, strings.Join(names, ", ")), "one of the model's output names")
		}
	case slices.Contains(names, ProbabilitiesName):
		outInfo = &outs[slices.Index(names, ProbabilitiesName)]
	case len(outs) > 0:
		outInfo = &outs[0]
	default:
		return nil, 0, mf.err("has no outputs", "a float32 output [N,classes]")
	}
	if outInfo.OrtValueType != onnxruntime.ONNXTypeTensor || outInfo.DataType != onnxruntime.TensorElementDataTypeFloat {
		return nil, 0, mf.err(fmt.Sprintf("output %q is %s", outInfo.Name, outInfo.String()), expectedOutput)
	}
	od := outInfo.Dimensions
	if len(od) < 2 {
		return nil, 0, mf.err(fmt.Sprintf("output %q has shape %v", outInfo.Name, od), expectedOutput)
	}
	perImg := int64(1)
	for i, d := range od[1:] {
		if d < 1 {
			return nil, 0, mf.err(fmt.Sprintf("output %q shape %v has a symbolic dimension %d", outInfo.Name, od, i+1), expectedOutput)
		}
		perImg *= d
	}
	return outInfo, perImg, nil
}

// labels reads the class labels from the metadata, else from a labels file
// beside the model; none found leaves c.Labels nil.
func (mf modelFile) labels(c *Contract, meta map[string]string) error {
	if v, ok := meta[KeyLabels]; ok {
		var err error
		if c.Labels, err = parseLabelList(v); err != nil {
			return mf.err(err.Error(), "comma-separated class names in output order")
		}
		c.LabelSource = "metadata"
		return nil
	}
	for _, p := range labelFileCandidates(string(mf)) {
		labels, err := readLabelFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return mf.err(err.Error(), "one class name per line")
		}
		c.Labels, c.LabelSource = labels, p
		break
	}
	return nil
}

// checkLabels checks there is one label per output element and the output
// ends in its class count.
func (mf modelFile) checkLabels(c Contract, out *onnxruntime.InputOutputInfo, perImg int64) error {
	od := out.Dimensions
	cands := labelFileCandidates(string(mf))
	if c.Labels == nil {
		return mf.err(fmt.Sprintf("has no class labels (%d outputs per image but 0 labels)", perImg),
			fmt.Sprintf("metadata %q with comma-separated class names, or a labels file %s or %s with one name per line", KeyLabels, cands[0], cands[1]))
	}
	if int64(len(c.Labels)) != perImg {
		return mf.err(fmt.Sprintf("output %q has %d classes (shape %v), %d outputs per image, but %d labels from %s (%s)",
			out.Name, perImg, od, perImg, len(c.Labels), c.LabelSource, strings.Join(c.Labels, ",")),
			fmt.Sprintf("as many labels as classes in the output: metadata %q with one comma-separated class name per output, or a labels file beside the model", KeyLabels))
	}
	if od[len(od)-1] != perImg {
		return mf.err(fmt.Sprintf("output %q shape %v does not end in its class count", out.Name, od), expectedOutput)
	}
	return nil
}

// readMetadata returns the model's metadata_props.
func readMetadata(modelPath string, opts *onnxruntime.SessionOptions) (map[string]string, error) {
	md, err := onnxruntime.GetModelMetadataWithOptions(modelPath, opts)
	if err != nil {
		return nil, err
	}
	defer md.Destroy()
	keys, err := md.GetCustomMetadataMapKeys()
	if err != nil {
		return nil, err
	}
	meta := make(map[string]string, len(keys))
	for _, k := range keys {
		v, ok, err := md.LookupCustomMetadataMap(k)
		if err != nil {
			return nil, err
		}
		if ok {
			meta[k] = v
		}
	}
	return meta, nil
}

// newRunner makes the tensors for batch images and a session reading
// spec.contract.OutputName, on the device the options ask for.
func newRunner(modelPath string, spec *inspected, batch int, o options) (*runner, error) {
	c := spec.contract
	r := &runner{outDim: spec.outPerImg}
	var inShape onnxruntime.Shape
	if c.Layout == NCHW {
		inShape = onnxruntime.NewShape(int64(batch), int64(c.Channels), int64(c.Height), int64(c.Width))
	} else {
		inShape = onnxruntime.NewShape(int64(batch), int64(c.Height), int64(c.Width), int64(c.Channels))
	}
	var err error
	switch c.Element {
	case Uint8:
		var t *onnxruntime.Tensor[uint8]
		if t, err = onnxruntime.NewEmptyTensor[uint8](inShape); err == nil {
			r.input, r.inU8 = t, t.GetData()
		}
	case Float32:
		var t *onnxruntime.Tensor[float32]
		if t, err = onnxruntime.NewEmptyTensor[float32](inShape); err == nil {
			r.input, r.inF32 = t, t.GetData()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("infer: creating input tensor %v: %w", inShape, err)
	}
	outShape := spec.outShape.Clone()
	outShape[0] = int64(batch)
	if r.output, err = onnxruntime.NewEmptyTensor[float32](outShape); err != nil {
		r.close()
		return nil, fmt.Errorf("infer: creating output tensor %v: %w", outShape, err)
	}
	if err := r.openSession(modelPath, c, o); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *runner) openSession(modelPath string, c Contract, o options) error {
	create := func(cuda bool) (*onnxruntime.AdvancedSession, error) {
		so, err := onnxruntime.NewSessionOptions()
		if err != nil {
			return nil, err
		}
		defer so.Destroy()
		if o.threads > 0 {
			if err := so.SetIntraOpNumThreads(o.threads); err != nil {
				return nil, err
			}
		}
		if o.spin != nil {
			v := "0"
			if *o.spin {
				v = "1"
			}
			if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", v); err != nil {
				return nil, err
			}
		}
		if cuda {
			cudaOpts, err := onnxruntime.NewCUDAProviderOptions()
			if err != nil {
				return nil, err
			}
			defer cudaOpts.Destroy()
			if err := so.AppendExecutionProviderCUDA(cudaOpts); err != nil {
				return nil, err
			}
		}
		return onnxruntime.NewAdvancedSession(modelPath, []string{c.InputName}, []string{c.OutputName},
			[]onnxruntime.Value{r.input}, []onnxruntime.Value{r.output}, so)
	}
	if o.device != DeviceCPU {
		reason := ""
		if provs, err := AvailableProviders(o.library); err == nil && !slices.Contains(provs, "CUDAExecutionProvider") {
			reason = "this ONNX Runtime build has no CUDA execution provider"
		} else if missing := missingCUDAProviderLib(o.library); missing != "" {
			// Checked here because ONNX Runtime would otherwise print its
			// own multi-line error to stderr before failing.
			reason = missing + " not found beside " + o.library
		} else if s, err := create(true); err != nil {
			reason = ortReason(err)
		} else {
			r.session, r.provider = s, "CUDA"
			return nil
		}
		if o.device == DeviceCUDA {
			return fmt.Errorf("infer: %w: %s: use --device cpu, or --device auto to fall back to the CPU", ErrCUDAUnavailable, reason)
		}
		if o.logf != nil {
			o.logf(fmt.Sprintf("infer: CUDA unavailable (%s); using CPU", reason))
		}
	}
	s, err := create(false)
	if err != nil {
		return &ModelError{Path: modelPath, Problem: "ONNX Runtime cannot create a session: " + ortReason(err), Expected: "a model ONNX Runtime " + ort.Version + " can run on the CPU"}
	}
	r.session, r.provider = s, "CPU"
	return nil
}

// initRuntime loads the ONNX Runtime library the options name and records
// its resolved path in o.library.
func initRuntime(o *options) error {
	lib, err := ort.FindLibrary(o.library)
	if err != nil {
		return err
	}
	if _, err = ort.Init(lib); err != nil {
		return err
	}
	o.library = lib
	return nil
}

// missingCUDAProviderLib names the first provider library the CUDA execution
// provider needs that is not in the ONNX Runtime library's folder, where ONNX
// Runtime looks for it; "" when both are there.
func missingCUDAProviderLib(lib string) string {
	for _, name := range []string{"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(lib), name)); err != nil {
			return name
		}
	}
	return ""
}

// ortReason shortens an onnxruntime_go error to its first line, without the
// Go wrapper prefixes that say nothing to a user.
func ortReason(err error) string {
	msg := err.Error()
	for _, p := range []string{"Error loading temporary session: ", "Error creating C session from file: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.TrimSpace(msg)
	if len(msg) > 240 {
		msg = msg[:240] + "..."
	}
	return msg
}

func elemName(t onnxruntime.TensorElementDataType) string {
	s := t.String()
	return strings.ToLower(strings.TrimPrefix(s, "ONNX_TENSOR_ELEMENT_DATA_TYPE_"))
}
