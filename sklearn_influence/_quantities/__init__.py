"""The quantities: influence, leave-one-out, perturbation and category answers built on a solver."""
