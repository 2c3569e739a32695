"""Generation: one pipeline over a registered model, with an explicit denoising loop."""
