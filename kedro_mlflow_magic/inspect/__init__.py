"""What a pipeline's inputs are: the roles of its free inputs (data input, artifacts, parameters,
problems), the kind of data each dataset loads as, MLflow models among the inputs, and the picture
of the pipeline that the roles view draws."""
