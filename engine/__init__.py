"""SpecLab's engine: specs and variants, data, training, evals, pipeline, jobs, service, CLI.

Importing ``engine`` (or any module that the dashboard uses) never imports torch or
streamlit: heavy ML imports happen inside the code that trains or generates.
"""

__version__ = "0.1.0"
