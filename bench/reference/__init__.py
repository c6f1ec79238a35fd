"""The exact analytic reference: closed-form counts per layer, priced by a stated convention."""
