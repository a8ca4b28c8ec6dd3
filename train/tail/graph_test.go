package tail

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/internal/ort/orttest"
	"github.com/rpscam/rpscam/model"
)

func initORT(t testing.TB) { orttest.Init(t) }

// tiny is a small tail with every part of the real one: a 3x3 grid (so the
// depthwise kernel's padding shows at every border), 3 -> 4 -> 3 -> 5 channels.
var tiny = Dims{Size: 3, In: 3, Expand: 4, Project: 3, Features: 5, Classes: 3}

func randomParams(r *rand.Rand, d Dims) map[string][]float64 {
	p := map[string][]float64{}
	for _, name := range d.ParamNames() {
		n := int64(1)
		for _, s := range d.Shape(name) {
			n *= s
		}
		// Wide enough that some units exceed 6 and some are below 0; the
		// residual and downsampling blocks' narrower, as their outputs add
		// up along the tail (wide ones saturate every later ReLU6).
		scale := 1.5
		if !slices.Contains(allParams, name) {
			scale = 0.5
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = r.NormFloat64() * scale
		}
		p[name] = v
	}
	return p
}

// double runs the withFloat64 training graph and returns the loss and the gradients.
func double(t *testing.T, s *onnxruntime.DynamicAdvancedSession, inputs []string, outputs []string, d Dims, n int,
	x, onehot, weight, mask []float64, p map[string][]float64) (float64, map[string][]float64) {
	t.Helper()
	var vals []onnxruntime.Value
	defer func() {
		for _, v := range vals {
			v.Destroy()
		}
	}()
	for _, name := range inputs {
		var v onnxruntime.Value
		var err error
		switch name {
		case inputX:
			v, err = onnxruntime.NewTensor(onnxruntime.NewShape(int64(n), int64(d.InputSide()), int64(d.InputSide()), int64(d.InputChannels())), x)
		case inputY:
			v, err = onnxruntime.NewTensor(onnxruntime.NewShape(int64(n), int64(d.Classes)), onehot)
		case inputWt:
			v, err = onnxruntime.NewTensor(onnxruntime.NewShape(int64(n), 1), weight)
		case inputMask:
			v, err = onnxruntime.NewTensor(onnxruntime.NewShape(int64(n), int64(d.Features)), mask)
		case constZero:
			v, err = onnxruntime.NewScalar(0.0)
		case constSix:
			v, err = onnxruntime.NewScalar(6.0)
		case constArea:
			v, err = onnxruntime.NewScalar(1 / float64(d.Size*d.Size))
		default:
			v, err = onnxruntime.NewTensor(onnxruntime.NewShape(d.Shape(name)...), p[name])
		}
		if err != nil {
			t.Fatal(name, err)
		}
		vals = append(vals, v)
	}
	outs := make([]onnxruntime.Value, len(outputs))
	if err := s.Run(vals, outs); err != nil {
		t.Fatal(err)
	}
	grads := map[string][]float64{}
	var loss float64
	for i, name := range outputs {
		data := append([]float64(nil), outs[i].(*onnxruntime.Tensor[float64]).GetData()...)
		outs[i].Destroy()
		switch {
		case name == outLoss:
			loss = data[0]
		case len(name) > len(gradOf) && name[:len(gradOf)] == gradOf:
			grads[name[len(gradOf):]] = data
		}
	}
	return loss, grads
}

// TestGradientsMatchCentralDifferences checks every parameter's analytic
// gradient from the graph against (L(w+h) - L(w-h)) / 2h in float64, with
// dropout masks and unequal example weights in play.
// tinyResidual adds two residual blocks before block_16, so the check
// covers a block's skip sum and the gradient passing one block to reach
// the next.
var tinyResidual = Dims{Size: 3, In: 3, Expand: 4, Project: 3, Features: 5, Classes: 3, Residual: 2}

// tinyDown adds a stride-2 downsampling block on a 6x6 input (block_13's
// shape: it narrows to In).
var tinyDown = Dims{Size: 3, In: 3, Expand: 4, Project: 3, Features: 5, Classes: 3, Residual: 1, DownIn: 2, DownExpand: 5}

// tinyPre adds a residual block on the 6x6 grid before the downsampling
// one (block_12's place: DownIn -> DownExpand -> DownIn, summed).
var tinyPre = Dims{Size: 3, In: 3, Expand: 4, Project: 3, Features: 5, Classes: 3, Residual: 1, DownIn: 2, DownExpand: 5, PreResidual: 1}

func TestGradientsMatchCentralDifferences(t *testing.T) {
	initORT(t)
	for _, d := range []Dims{tiny, tinyResidual, tinyDown, tinyPre} {
		t.Run(fmt.Sprintf("pre%d_residual%d_down%v", d.PreResidual, d.Residual, d.down()), func(t *testing.T) { checkGradients(t, d) })
	}
}

func checkGradients(t *testing.T, d Dims) {
	m, err := build(d, training(d.ParamNames()...), withFloat64())
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var inputs, outputs []string
	for _, v := range m.Graph.Inputs {
		inputs = append(inputs, v.Name)
	}
	for _, v := range m.Graph.Outputs {
		outputs = append(outputs, v.Name)
	}
	s, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(data, inputs, outputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()

	r := rand.New(rand.NewPCG(3, 4))
	const n = 2
	p := randomParams(r, d)
	x := make([]float64, n*d.InputLen())
	for i := range x {
		x[i] = r.NormFloat64() * 2
	}
	onehot := []float64{0, 1, 0, 0, 0, 1}
	weight := []float64{0.3, 0.7}
	mask := make([]float64, n*d.Features)
	for i := range mask {
		if i%4 != 1 {
			mask[i] = 1.25
		}
	}
	_, grads := double(t, s, inputs, outputs, d, n, x, onehot, weight, mask, p)
	const h = 1e-6
	checked := 0
	for _, name := range d.ParamNames() {
		g, ok := grads[name]
		if !ok {
			t.Fatalf("no gradient output for %s", name)
		}
		for i := range p[name] {
			orig := p[name][i]
			p[name][i] = orig + h
			lp, _ := double(t, s, inputs, outputs, d, n, x, onehot, weight, mask, p)
			p[name][i] = orig - h
			lm, _ := double(t, s, inputs, outputs, d, n, x, onehot, weight, mask, p)
			p[name][i] = orig
			num := (lp - lm) / (2 * h)
			if diff := math.Abs(num - g[i]); diff > 1e-6+1e-4*math.Abs(num) {
				t.Errorf("%s[%d]: graph gradient %.9g, central difference %.9g", name, i, g[i], num)
			}
			checked++
		}
	}
	// The test data must exercise the gradient: all-zero gradients would
	// pass the comparison trivially.
	for _, name := range d.ParamNames() {
		nonzero := 0
		for _, v := range grads[name] {
			if math.Abs(v) > 1e-9 {
				nonzero++
			}
		}
		if nonzero == 0 {
			t.Errorf("%s: every gradient is zero; the test data does not reach it", name)
		}
	}
	t.Logf("checked %d parameter gradients", checked)
}

// TestTrainingGraphSkipsFrozenLayers: with only the head and Conv_1
// trainable, the graph has exactly those gradient outputs.
func TestTrainingGraphSkipsFrozenLayers(t *testing.T) {
	m, err := build(tiny, training(conv1W, conv1B, HeadW, HeadB))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range m.Graph.Outputs {
		got = append(got, o.Name)
	}
	want := []string{outPooled, outProbs, outLoss, gradName(HeadW), gradName(HeadB), gradName(conv1W), gradName(conv1B)}
	if len(got) != len(want) {
		t.Fatalf("outputs %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("outputs %v, want %v", got, want)
		}
	}
	if _, err := build(tiny, training("Conv1")); err == nil {
		t.Error("Build accepted an unknown parameter name")
	}
	if _, err := build(tiny, training(residualParams(0)...)); err == nil {
		t.Error("Build accepted a residual block's parameter for a tail without residual blocks")
	}
	// Training the second of two residual blocks back-propagates into it
	// but not into the first.
	m, err = build(tinyResidual, training(append(residualParams(1), allParams...)...))
	if err != nil {
		t.Fatal(err)
	}
	grads := map[string]bool{}
	for _, o := range m.Graph.Outputs {
		grads[o.Name] = true
	}
	for _, p := range residualParams(1) {
		if !grads[gradName(p)] {
			t.Errorf("no gradient output for trainable %s", p)
		}
	}
	for _, p := range residualParams(0) {
		if grads[gradName(p)] {
			t.Errorf("gradient output for frozen %s", p)
		}
	}
}

// TestForwardMatchesNN runs random block_16 + Conv_1 layers and head through
// package nn (the reference the backbone conversion is checked against) and
// through the tail's inference graph via FromBackbone's weight conversion.
func TestForwardMatchesNN(t *testing.T) {
	initORT(t)
	d := tiny
	r := rand.New(rand.NewPCG(5, 6))
	rnd := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * scale)
		}
		return v
	}
	// A backbone holding only the tail's layers, in TFLite layouts.
	b := &model.Backbone{Layers: []model.Layer{
		{Name: "block_16_expand", Kind: model.Conv, Inputs: []int{model.ImageInput}, Kernel: 1, Stride: 1, InChannels: d.In, OutChannels: d.Expand, InSize: d.Size, OutSize: d.Size, Weights: rnd(d.Expand*d.In, 1), Bias: rnd(d.Expand, 1), ReLU6: true},
		{Name: "block_16_depthwise", Kind: model.Depthwise, Inputs: []int{0}, Kernel: 3, Stride: 1, InChannels: d.Expand, OutChannels: d.Expand, InSize: d.Size, OutSize: d.Size, Weights: rnd(9*d.Expand, 1), Bias: rnd(d.Expand, 1), ReLU6: true},
		{Name: "block_16_project", Kind: model.Conv, Inputs: []int{1}, Kernel: 1, Stride: 1, InChannels: d.Expand, OutChannels: d.Project, InSize: d.Size, OutSize: d.Size, Weights: rnd(d.Project*d.Expand, 1), Bias: rnd(d.Project, 1)},
		{Name: "Conv_1", Kind: model.Conv, Inputs: []int{2}, Kernel: 1, Stride: 1, InChannels: d.Project, OutChannels: d.Features, InSize: d.Size, OutSize: d.Size, Weights: rnd(d.Features*d.Project, 1), Bias: rnd(d.Features, 1), ReLU6: true},
	}}
	head := &model.Params{Labels: []string{"a", "b", "c"}, HeadW: rnd(d.Classes*d.Features, 1), HeadB: rnd(d.Classes, 1)}
	p, gotDims, err := FromBackbone(b, head, d.Classes, d.Residual)
	if err != nil {
		t.Fatal(err)
	}
	if gotDims != d {
		t.Fatalf("DimsOf = %+v, want %+v", gotDims, d)
	}
	const n = 3
	x := rnd(n*d.Size*d.Size*d.In, 2)

	s, err := NewSession(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(Batch{N: n, X: x}, p)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		per := d.Size * d.Size * d.In
		act, err := nn.FromData(append([]float32(nil), x[i*per:(i+1)*per]...), 1, d.Size, d.Size, d.In)
		if err != nil {
			t.Fatal(err)
		}
		for k := range b.Layers {
			if act, err = b.Layers[k].Apply(act); err != nil {
				t.Fatal(err)
			}
		}
		pooled, err := nn.GlobalAvgPool(act)
		if err != nil {
			t.Fatal(err)
		}
		logits, err := nn.Dense(pooled, head.HeadW, head.HeadB, d.Classes)
		if err != nil {
			t.Fatal(err)
		}
		probs, err := nn.Softmax(logits)
		if err != nil {
			t.Fatal(err)
		}
		for f := 0; f < d.Features; f++ {
			if diff := math.Abs(float64(pooled.Data[f] - res.Pooled[i*d.Features+f])); diff > 1e-4 {
				t.Errorf("example %d pooled[%d]: graph %g, nn %g", i, f, res.Pooled[i*d.Features+f], pooled.Data[f])
			}
		}
		for c := 0; c < d.Classes; c++ {
			if diff := math.Abs(float64(probs.Data[c] - res.Probs[i*d.Classes+c])); diff > 1e-5 {
				t.Errorf("example %d probs[%d]: graph %g, nn %g", i, c, res.Probs[i*d.Classes+c], probs.Data[c])
			}
		}
	}
	// Round trip back to the backbone's layouts.
	hw, hb, tuned, err := ToModel(p, d, noResidualLayers...)
	if err != nil {
		t.Fatal(err)
	}
	for k := range b.Layers {
		l := &b.Layers[k]
		if got := tuned[l.Name]; !equal(got.Weights, l.Weights) || !equal(got.Bias, l.Bias) {
			t.Errorf("%s does not round-trip through the tail layout", l.Name)
		}
	}
	if !equal(hw, head.HeadW) || !equal(hb, head.HeadB) {
		t.Error("head does not round-trip through the tail layout")
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
