#!/bin/sh
echo password is ?{base64:targets/web/pw:2de69d8f}
