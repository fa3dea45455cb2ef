"""Decision models: a points scorecard written in YAML, checked, compiled to ONNX, evaluated."""
