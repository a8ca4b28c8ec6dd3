package infer

import "strings"

// The no-hand class. A model may have one class meaning "nothing to judge in
// the box" next to its gestures; rpscam's own export lists it last, as
// "rock,paper,scissors,none". Everything that shows a prediction to a person
// (the overlay, the web page, the command lines) goes through IsNoHand and
// DisplayLabel, so that "none" reads as "no hand" and never as a gesture
// called "none". Machine-readable output (JSON label fields, CSV, metrics
// label values) keeps the model's own label. A model without this class, such
// as an older 3-class file or a user-taught one, is shown exactly as before.
const (
	// NoHandLabel is the model label of the no-hand class (matched without
	// regard to case or surrounding spaces, as labels files are hand-written).
	NoHandLabel = "none"
	// noHandText is what people are shown for it.
	noHandText = "no hand"
)

// IsNoHand reports whether label is the model's no-hand class.
func IsNoHand(label string) bool {
	return strings.EqualFold(strings.TrimSpace(label), NoHandLabel)
}

// DisplayLabel is label as people should read it: noHandText for the no-hand
// class, the label unchanged otherwise (including "", no prediction).
func DisplayLabel(label string) string {
	if IsNoHand(label) {
		return noHandText
	}
	return label
}

// IsHand reports whether a prediction labelled label shows a hand: false for
// the no-hand class and for no prediction at all (""). A model without a
// no-hand class cannot say "no hand", so its predictions are all hands.
func IsHand(label string) bool {
	return label != "" && !IsNoHand(label)
}
