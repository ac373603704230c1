"""The spam and toxicity classifier: features, training, model bundles and evaluation."""
