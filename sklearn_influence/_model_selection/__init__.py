"""Model selection from one fit per candidate: leave-one-out predictions, searches and intervals."""
