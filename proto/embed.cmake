# Turns IN (a text file) into OUT, a C file defining proto_openrpc_json[].
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "const char proto_openrpc_json[] = {${bytes} 0x00};\n")
