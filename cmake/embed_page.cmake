# Writes OUT, a C++ file that defines pevis::page_assets::kNAME, a PageAssets
# (output/html.h): a page's markup, style and script as strings, with the
# base64 SHA-256 of the style and the script that the page's
# Content-Security-Policy names. Run at build time:
#   cmake -DNAME=Attention -DBODY=... -DSTYLE=... -DSCRIPT=... -DOUT=... -P embed_page.cmake

# base64 of the bytes written as hex digits (CMake has no base64 of its own).
function(hex_to_base64 hex out)
  set(digits "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
  string(LENGTH "${hex}" length)
  set(result "")
  set(at 0)
  while(at LESS length)
    math(EXPR left "${length} - ${at}")
    if(left GREATER 6)
      set(left 6)
    endif()
    string(SUBSTRING "${hex}" ${at} ${left} chunk)
    math(EXPR value "0x${chunk}")
    # A short last group: shifted up to 24 bits, with '=' for the bytes it lacks.
    set(pad "")
    if(left EQUAL 4)
      math(EXPR value "${value} << 8")
      set(pad "=")
    elseif(left EQUAL 2)
      math(EXPR value "${value} << 16")
      set(pad "==")
    endif()
    string(LENGTH "${pad}" padded)
    math(EXPR chars "4 - ${padded}")
    foreach(shift 18 12 6 0)
      if(chars GREATER 0)
        math(EXPR index "(${value} >> ${shift}) & 63")
        string(SUBSTRING "${digits}" ${index} 1 digit)
        string(APPEND result "${digit}")
        math(EXPR chars "${chars} - 1")
      endif()
    endforeach()
    string(APPEND result "${pad}")
    math(EXPR at "${at} + 6")
  endwhile()
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

file(READ "${BODY}" body)
file(READ "${STYLE}" style)
file(READ "${SCRIPT}" script)
file(SHA256 "${STYLE}" style_hex)
file(SHA256 "${SCRIPT}" script_hex)
hex_to_base64("${style_hex}" style_hash)
hex_to_base64("${script_hex}" script_hash)
foreach(part body style script)
  string(FIND "${${part}}" ")pevis_page\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${part} holds the raw string's closing sequence")
  endif()
endforeach()
file(WRITE "${OUT}.tmp" "// Written by cmake/embed_page.cmake from a page/ folder; do not edit.
#include \"pevis/output/html.h\"

namespace pevis::page_assets {
namespace {
const char kBody[] = R\"pevis_page(${body})pevis_page\";
const char kStyle[] = R\"pevis_page(${style})pevis_page\";
const char kScript[] = R\"pevis_page(${script})pevis_page\";
}  // namespace

extern const PageAssets k${NAME} = {kBody, kStyle, \"${style_hash}\", kScript, \"${script_hash}\"};

}  // namespace pevis::page_assets
")
file(RENAME "${OUT}.tmp" "${OUT}")
