#!/bin/sh
echo "app2 on port 9090"