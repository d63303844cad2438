#!/bin/sh
echo "{{ target }} on port {{ inventory.parameters.port }}"
