"""The demo: a simulated fleet (an inference API and a batch pipeline on 127.0.0.1), its traffic
model and scripted timeline, backfilled history and a local webhook receiver.

Nothing here runs inside the agent; ``redline demo`` (``redline.agent.demo``) wires it to one.
"""
