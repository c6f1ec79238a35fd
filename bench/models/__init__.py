"""The models a run measures: the zoo's definitions, the user's, and those too big to hold."""
