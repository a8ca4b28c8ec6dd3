// Package teach personalises the gesture model: a user's own examples,
// captured from the camera into a class-folder samples store, train a new
// classifier head on the shipped model's pooled features in seconds (mixed
// with cached features of the general training data so the model keeps
// working for other people), and the taught model is written with the base
// model's input contract so a running pipeline can swap it in.
//
//	t, _ := teach.NewTeacher(cfg, sess.SwapModel)
//	t.AddSample("paper", frame, image.Rectangle{}) // from the sink goroutine
//	res, _ := t.Train(ctx, func(p teach.Progress) { … })
//	fmt.Printf("held-out accuracy %.1f%% -> %.1f%%\n", 100*res.Before, 100*res.After)
package teach
