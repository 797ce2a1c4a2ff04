"""The exercise tools: a student version made from the solution, and a grader that scores it.

    normnet exercise make DIR          write the student version into DIR
    normnet exercise grade [DIR]       grade a student tree (default: the current folder),
                                       or every submission in a folder of them

The parts and their points are in ``exercise.points``; TEACHING.md explains the workflow.
This package sits above the framework: nothing below imports it.
"""
