"""The data-driven portrait: ABC, XYZ, the ABC x XYZ matrix, RFM, the data floor and the index profile behind a
suggested persona. Pure functions over plain values and frozen dataclasses (docs/analytics.md explains each rule).
"""
