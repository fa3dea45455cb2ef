"""What a model's evidence means, wherever it is measured: the trainer on its holdout, the
registry's sandbox on a submitter's evaluation data. One definition of each metric and
fairness gap, so that a decision compares like with like."""
