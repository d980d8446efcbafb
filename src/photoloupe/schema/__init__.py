"""The public contracts at the bottom of the house: the report (`photoloupe.report/1`) and
comparison (`photoloupe.compare/1`) models. Everything else may import them; they import
nothing of photoloupe's, so a renderer, the server or an analysis all see one data model.
"""
