package overlay

import (
	"image/color"
	"strings"

	"github.com/rpscam/rpscam/infer"
)

// Colours are 0xRRGGBB constants so that they are true constants, usable by
// other front ends (the web page, the model card) that must show a gesture in
// the same colour as the video does.
const (
	// RockRGB is the colour of the "rock" class: warm orange.
	RockRGB = 0xFF8A3D
	// paperRGB is the colour of the "paper" class: green.
	paperRGB = 0x3DDC84
	// scissorsRGB is the colour of the "scissors" class: violet.
	scissorsRGB = 0xB07CFF

	// NoHandRGB is the neutral light grey of the no-hand class ("none",
	// shown as "no hand"): an empty box is news, not a gesture, so it gets
	// no gesture's colour, and it stays apart from UncertainRGB so that a
	// confident "no hand" does not look like a guess.
	NoHandRGB = 0xD7DCE2

	// UncertainRGB is the muted grey of the big label when the prediction
	// is marked uncertain, so that nobody reads a guess as an answer.
	UncertainRGB = 0x9AA0A6
	// ROIRGB is the colour of the region-of-interest box: cyan, which none of
	// the class colours is close to.
	ROIRGB = 0x00E5FF
	// recordingRGB is the red of the recording dot and the "REC" text.
	recordingRGB = 0xFF3B30
	// statusRGB is the amber text of the status banner ("reconnecting...").
	statusRGB = 0xFFC107

	// panelRGB is the tint blended behind the text; panelOpacity is how much
	// of it covers the picture (the rest of the picture shows through).
	panelRGB     = 0x101418
	panelOpacity = 0.62

	// trackRGB is the unfilled part of a probability bar.
	trackRGB = 0x3A4047
	// textRGB and dimTextRGB are for the top class's row and the others.
	textRGB    = 0xF5F7FA
	dimTextRGB = 0xB8BEC6
	// outlineRGB edges the ROI box so it shows on light and dark pictures.
	outlineRGB = 0x000000
)

// palette colours classes other than rock, paper and scissors, by their
// index in the label list; the colours are chosen away from the three class
// colours, the ROI cyan and the recording red.
var palette = [...]uint32{
	0xFFD54F, // yellow
	0xF06292, // pink
	0x4DB6AC, // teal
	0x7986CB, // indigo
	0xA1887F, // brown
	0xAED581, // lime
	0x4FC3F7, // sky
	0xE57373, // salmon
}

// rgb turns a 0xRRGGBB constant into the opaque colour gocv drawing takes.
func rgb(hex uint32) color.RGBA {
	return color.RGBA{R: uint8(hex >> 16), G: uint8(hex >> 8), B: uint8(hex), A: 255}
}

// classColor is the colour a class is drawn in: the fixed colour for rock,
// paper and scissors (matched case-insensitively), NoHandRGB for the no-hand
// class (infer.IsNoHand), otherwise a palette colour picked by the class's
// index in the label list.
func classColor(label string, index int) color.RGBA {
	if infer.IsNoHand(label) {
		return rgb(NoHandRGB)
	}
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "rock":
		return rgb(RockRGB)
	case "paper":
		return rgb(paperRGB)
	case "scissors", "scissor":
		return rgb(scissorsRGB)
	}
	if index < 0 {
		index = -index
	}
	return rgb(palette[index%len(palette)])
}
