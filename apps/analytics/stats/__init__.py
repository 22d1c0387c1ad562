"""Customer-value statistics on plain NumPy arrays: no Django, no database.

``bgnbd`` and ``gamma_gamma`` are the published models (Fader, Hardie & Lee 2005; Fader & Hardie
2013) fitted by maximum likelihood with SciPy; ``rfm`` scores by quintiles; ``churn`` is the
back-tested logistic model that ranks who buys again better than BG/NBD alone.
"""
