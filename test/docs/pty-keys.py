# Runs a command on a new pseudo-terminal (python3's pty: Node has no
# openpty), for the docs' examples that read a terminal. Once the program
# has printed something, it types KEYS one byte at a time; it passes what
# the terminal showed to stdout and exits with the program's exit code.
#
#   python3 pty-keys.py KEYS command args...
import os
import select
import subprocess
import sys
import time

keys = sys.argv[1].encode('latin-1')
master, slave = os.openpty()
child = subprocess.Popen(sys.argv[2:], stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True, close_fds=True)
os.close(slave)
output = b""
typed = False
while True:
    ready, _, _ = select.select([master], [], [], 0.05)
    if ready:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the program closed the terminal
            data = b""
        if not data:
            break
        output += data
        if not typed:
            typed = True
            for key in keys:
                time.sleep(0.05)
                os.write(master, bytes([key]))
    elif child.poll() is not None:
        break
code = child.wait()
sys.stdout.write(output.decode('utf-8', 'replace'))
sys.exit(code if code >= 0 else 128 - code)
