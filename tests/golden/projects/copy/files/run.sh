#!/bin/sh
echo copied
