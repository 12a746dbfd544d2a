"""Pure reconcile planning: observations in, desired children and status out."""
