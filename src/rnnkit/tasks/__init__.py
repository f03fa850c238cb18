"""Tasks: data + model + loss + metrics + prediction for each problem type."""
