// PetalEvaluation
