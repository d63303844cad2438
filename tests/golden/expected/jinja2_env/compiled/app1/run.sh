#!/bin/sh
echo "app1 on port 8080"