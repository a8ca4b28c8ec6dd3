package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rpscam/rpscam/model"
)

// record is the training record (models/training-record.json): how a
// params file was made, and what it scored.
type record struct {
	Date           string                `json:"date"`
	Command        string                `json:"command"`
	Reproduce      string                `json:"reproduce"`
	Tolerance      string                `json:"tolerance"`
	Mode           string                `json:"mode"`
	Seed           uint64                `json:"seed"`
	SplitSeed      uint64                `json:"split_seed"`
	AugSeed        uint64                `json:"aug_seed"`
	Views          int                   `json:"views"`
	ValFraction    float64               `json:"val_fraction"`
	HoldOutPercent int                   `json:"held_out_percent"`
	Fit            recordFit             `json:"fit"`
	FineTune       *recordFineTune       `json:"finetune,omitempty"`
	Augment        AugmentConfig         `json:"augment"`
	Sources        []SourceCounts        `json:"sources"`
	Backbone       recordBackbone        `json:"backbone"`
	Summary        recordSummary         `json:"model_summary"`
	TrainVectors   int                   `json:"train_feature_vectors"`
	Validation     *recordVal            `json:"validation"` // null: trained on every group (--val-fraction 0)
	Tests          map[string]recordTest `json:"tests,omitempty"`
	History        []EpochStats          `json:"history"`
	Seconds        recordTimes           `json:"seconds"`
	Params         recordParams          `json:"params"`
	GoVersion      string                `json:"go_version"`
	Host           string                `json:"host"`
	SharedLicenses string                `json:"data_licenses"`
}

type recordFit struct {
	Epochs       int     `json:"max_epochs"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	Dropout      float64 `json:"dropout"`
	WeightDecay  float64 `json:"weight_decay"`
	Patience     int     `json:"patience"`
	// BalanceClasses is omitted when false, so records of runs before the
	// flag read as before.
	BalanceClasses bool `json:"balance_classes,omitempty"`
}

func newRecordFit(f FitConfig) recordFit {
	return recordFit{Epochs: f.Epochs, BatchSize: f.BatchSize, LearningRate: f.LearningRate, Dropout: f.Dropout, WeightDecay: f.WeightDecay, Patience: f.Patience, BalanceClasses: f.BalanceClasses}
}

type recordFineTune struct {
	Tune           string         `json:"tune"`
	Layers         []string       `json:"layers"`
	TrunkEnd       string         `json:"trunk_end"`
	TrunkSHA256    string         `json:"trunk_onnx_sha256"`
	Epochs         int            `json:"max_epochs"`
	LRHead         float64        `json:"learning_rate_head"`
	LRLayers       float64        `json:"learning_rate_layers"`
	Anchor         float64        `json:"anchor_l2"`
	Patience       int            `json:"patience"`
	LabelSmoothing float64        `json:"label_smoothing"`
	Mixup          float64        `json:"mixup_alpha,omitempty"`
	Schedule       string         `json:"lr_schedule"`
	EMA            float64        `json:"ema_decay,omitempty"`
	Monitor        string         `json:"monitor"`
	Oversample     map[string]int `json:"oversample,omitempty"`
	WarmUp         []EpochStats   `json:"head_warmup_history"`
	ParamsEncoding string         `json:"params_encoding"`
}

type recordTest struct {
	N        int                `json:"n"`
	Accuracy float64            `json:"accuracy"`
	Recall   map[string]float64 `json:"recall"`
}

type recordBackbone struct {
	File       string `json:"tflite_file"`
	SHA256     string `json:"tflite_sha256"`
	Weights    string `json:"weights"`
	ONNXSHA256 string `json:"onnx_sha256"`
}

type recordSummary struct {
	Total     int `json:"total_params"`
	Trainable int `json:"trainable_params"`
	Frozen    int `json:"non_trainable_params"`
}

type recordVal struct {
	Loss     float64            `json:"loss"`
	Accuracy float64            `json:"accuracy"`
	BySource map[string]float64 `json:"accuracy_by_source"`
}

type recordTimes struct {
	Features float64 `json:"features"`
	Fit      float64 `json:"fit"`
	Total    float64 `json:"total"`
}

type recordParams struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// WeightsSHA256 leaves the file's metadata (training date, command) out:
	// a rerun that trains the same numbers has the same value.
	WeightsSHA256 string `json:"weights_sha256"`
}

// newRecord fills the fields both recipes set alike.
func (j *Job) newRecord(date string) record {
	b := j.Backbone
	return record{
		Date: date, Mode: j.Mode, Seed: j.Seed, SplitSeed: j.SplitSeed, AugSeed: j.AugSeed, Views: j.Views, ValFraction: j.ValFraction,
		Fit: newRecordFit(j.Fit), HoldOutPercent: holdOutPercent,
		Backbone:       recordBackbone{File: b.Source.File, SHA256: b.Source.SHA256, Weights: b.Source.Weights.Name},
		Reproduce:      j.Reproduce,
		GoVersion:      runtime.Version(),
		Host:           fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		Command:        j.Command,
		SharedLicenses: dataLicenses,
	}
}

// newRecordVal is the record's validation entry; nil when the run held no
// validation images (--val-fraction 0), whose figures are NaN.
func newRecordVal(loss, acc float64, bySource map[string]float64) *recordVal {
	if math.IsNaN(loss) || math.IsNaN(acc) {
		return nil
	}
	return &recordVal{Loss: loss, Accuracy: acc, BySource: bySource}
}

func printValidation(w io.Writer, v *recordVal) {
	if v == nil {
		fmt.Fprintln(w, "validation: none (--val-fraction 0: every group trained on; the epochs are the ones given)")
		return
	}
	fmt.Fprintf(w, "validation (clean views): loss %.4f accuracy %.4f", v.Loss, v.Accuracy)
	for _, s := range sortedKeys(v.BySource) {
		fmt.Fprintf(w, "  %s %.4f", s, v.BySource[s])
	}
	fmt.Fprintln(w)
}

// modelMeta is the metadata of a trained model: weights, date, data,
// recipe and the validation figures (or a note that there were none).
func modelMeta(b *model.Backbone, date string, sources []SourceCounts, recipe string, val *recordVal) map[string]string {
	var srcDesc []string
	for _, s := range sources {
		srcDesc = append(srcDesc, fmt.Sprintf("%s:%d", s.Name, s.Train+s.Validation))
	}
	meta := map[string]string{
		model.MetaBackboneWeights: b.Source.Weights.Name,
		"training_date":           date,
		"training_data":           strings.Join(srcDesc, ","),
		"training_recipe":         recipe,
	}
	if val == nil {
		meta["validation"] = "none: trained on every group of the training sources (--val-fraction 0)"
	} else {
		meta["validation_accuracy"] = strconv.FormatFloat(val.Accuracy, 'f', 4, 64)
		meta["validation_loss"] = strconv.FormatFloat(val.Loss, 'f', 4, 64)
	}
	return meta
}

// writeOutputs writes the record, says where the params went and builds
// the model file when one is asked for.
func (j *Job) writeOutputs(rec record, params *model.Params) error {
	before := previousWeightsSHA256(j.Out.Record)
	if err := writeJSON(j.Out.Record, rec); err != nil {
		return err
	}
	fmt.Fprintf(j.Log, "wrote %s (sha256 %s…) and %s\n", j.Out.Params, rec.Params.SHA256[:12], j.Out.Record)
	fmt.Fprintf(j.Log, "parameters: weights sha256 %s…%s\n", rec.Params.WeightsSHA256[:12], compareWeights(before, rec.Params.WeightsSHA256))
	if j.Out.Model != "" {
		m, err := model.BuildONNX(j.Backbone, params, nil)
		if err != nil {
			return err
		}
		if err := model.WriteONNX(j.Out.Model, m); err != nil {
			return err
		}
		fmt.Fprintf(j.Log, "wrote %s: measure it with rpscam eval --data ../shared/data/rps-cgi/test\n", j.Out.Model)
	}
	return nil
}

// previousWeightsSHA256 is the weights sha256 in the record a run is about
// to replace, or "" when there is none (no file, or one from before the
// field existed).
func previousWeightsSHA256(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var old struct {
		Params recordParams `json:"params"`
	}
	if json.Unmarshal(data, &old) != nil {
		return ""
	}
	return old.Params.WeightsSHA256
}

// compareWeights says how a run's parameters relate to the record it
// replaced: the check that the default run reproduces the committed model.
func compareWeights(before, now string) string {
	switch before {
	case "":
		return ""
	case now:
		return ": the same parameters as the record this run replaced"
	default:
		return fmt.Sprintf(": other parameters than the record this run replaced (%s…)", before[:min(12, len(before))])
	}
}

// writeCurve draws the training curve when one is asked for.
func (j *Job) writeCurve(hist []EpochStats) error {
	if j.Out.Curve == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(j.Out.Curve), 0o755); err != nil {
		return err
	}
	if err := writeCurvePNG(j.Out.Curve, hist); err != nil {
		return err
	}
	fmt.Fprintf(j.Log, "training curve: %s\n", j.Out.Curve)
	return nil
}

// printTimes is the run's closing time line.
func (j *Job) printTimes(vectors string, extract, fit time.Duration, fitRound time.Duration) {
	fmt.Fprintf(j.Log, "time: %s %s, fit %s, total %s\n", vectors, extract.Round(time.Second), fit.Round(fitRound), time.Since(j.Began).Round(time.Second))
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ifOn gives text when a boolean option is on, else "": the option's part
// of a recipe text.
func ifOn(on bool, text string) string {
	if !on {
		return ""
	}
	return text
}

// unlessZero formats an option that 0 turns off (mixup's alpha, the EMA
// decay) with format, or gives "" when it is off, so that records of
// recipes without it read as before.
func unlessZero(value float64, format string) string {
	if value == 0 {
		return ""
	}
	return fmt.Sprintf(format, value)
}

// oversampleText is the --oversample settings as "name=k" items, sorted,
// each after prefix, separated by sep and followed by suffix; "" when there
// are none.
func oversampleText(by map[string]int, prefix, sep, suffix string) string {
	if len(by) == 0 {
		return ""
	}
	var items []string
	for _, name := range sortedKeys(by) {
		items = append(items, fmt.Sprintf("%s%s=%d", prefix, name, by[name]))
	}
	return strings.Join(items, sep) + suffix
}

// labelList is Labels as a slice of its own.
func labelList() []string { return slices.Clone(Labels[:]) }
