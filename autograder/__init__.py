"""cnn-autograder: auto-graded CNN image-classification assignments in PyTorch.

The engine runs hidden pytest + hypothesis suites in a trusted process and the student's code in
an isolated worker process; see DESIGN.md section 4 and :mod:`autograder.runner`.
"""

__version__ = "0.1.0"
