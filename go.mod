module github.com/rpscam/rpscam

go 1.26.8

require (
	github.com/yalue/onnxruntime_go v1.27.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/spf13/pflag v1.0.10 // indirect
	gocv.io/x/gocv v0.31.0 // indirect
)
