# dist/install.cmake: the install steps whose paths depend on the prefix given at install time
# (`cmake --install build --prefix P`, DESTDIR, or cpack's staging), which the plain install()
# rules in the top-level CMakeLists.txt cannot know at configure time: the systemd unit names the
# installed binary and config file, the config file goes to /etc for the prefix /usr, and an
# existing (edited) config file is never overwritten. Included at configure time for
# sipscope_sysconfdir (the package's conffiles) and at install time for sipscope_install_dist.

# The configuration directory for a prefix, by GNUInstallDirs' rule for CMAKE_INSTALL_FULL_SYSCONFDIR:
# /etc for the prefixes / and /usr, /etc/opt/X for /opt/X, else PREFIX/etc.
function(sipscope_sysconfdir prefix out)
  string(REGEX REPLACE "/+$" "" prefix "${prefix}")
  if(prefix STREQUAL "" OR prefix STREQUAL "/usr")
    set(dir "/etc")
  elseif(prefix MATCHES "^/opt/")
    set(dir "/etc${prefix}")
  else()
    set(dir "${prefix}/etc")
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

# DIR (a GNUInstallDirs relative or absolute directory) under prefix.
function(sipscope_under prefix dir out)
  string(REGEX REPLACE "/+$" "" prefix "${prefix}")
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

function(sipscope_gzip from to)
  execute_process(COMMAND gzip -9 -n -c "${from}" OUTPUT_FILE "${to}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip of ${from} failed: ${rc}")
  endif()
endfunction()

# Install the unit, the config file and the man page (with SIPSCOPE_DEBIAN_DOCS gzipped, plus
# the changelog.Debian.gz every Debian package has). Reads (set by the install(CODE) caller):
# SIPSCOPE_SOURCE_DIR, SIPSCOPE_STAGE_DIR (scratch in the build tree), SIPSCOPE_BINDIR,
# SIPSCOPE_DOCDIR, SIPSCOPE_MANDIR, SIPSCOPE_DEBIAN_DOCS, SIPSCOPE_DEB_VERSION,
# SIPSCOPE_MAINTAINER; and CMAKE_INSTALL_PREFIX, which the install sets (without DESTDIR: paths
# written into files are those of the installed system).
function(sipscope_install_dist)
  set(prefix "${CMAKE_INSTALL_PREFIX}")
  sipscope_sysconfdir("${prefix}" sysconfdir)
  sipscope_under("${prefix}" "${SIPSCOPE_BINDIR}" bindir)
  sipscope_under("${prefix}" "${SIPSCOPE_DOCDIR}" docdir)
  sipscope_under("${prefix}" "${SIPSCOPE_MANDIR}" mandir)
  sipscope_under("${prefix}" "lib/systemd/system" unitdir)
  file(MAKE_DIRECTORY "${SIPSCOPE_STAGE_DIR}")

  # The unit as shipped names the package's paths (prefix /usr); point them at this install.
  file(READ "${SIPSCOPE_SOURCE_DIR}/dist/sipscope.service" unit)
  foreach(pair "/usr/bin/sipscope|${bindir}/sipscope"
               "/etc/sipscope/|${sysconfdir}/sipscope/"
               "/usr/share/doc/sipscope/|${docdir}/")
    string(REPLACE "|" ";" pair "${pair}")
    list(GET pair 0 from)
    list(GET pair 1 to)
    string(FIND "${unit}" "${from}" at)
    if(at LESS 0)
      message(FATAL_ERROR "dist/sipscope.service no longer mentions ${from}; update dist/install.cmake")
    endif()
    string(REPLACE "${from}" "${to}" unit "${unit}")
  endforeach()
  file(WRITE "${SIPSCOPE_STAGE_DIR}/sipscope.service" "${unit}")
  file(INSTALL "${SIPSCOPE_STAGE_DIR}/sipscope.service" DESTINATION "${unitdir}")

  # An operator's edited config survives a reinstall; the pristine example is in the docs.
  set(conf "${sysconfdir}/sipscope/sipscope.conf")
  if(EXISTS "$ENV{DESTDIR}${conf}")
    message(STATUS "Keeping: $ENV{DESTDIR}${conf} (the example is ${docdir}/examples/sipscope.conf)")
  else()
    file(INSTALL "${SIPSCOPE_SOURCE_DIR}/dist/sipscope.conf" DESTINATION "${sysconfdir}/sipscope")
  endif()

  # Debian ships man pages gzipped (-n: no name or time stamp, so the package is reproducible).
  set(page "${SIPSCOPE_SOURCE_DIR}/docs/sipscope.1")
  if(SIPSCOPE_DEBIAN_DOCS)
    sipscope_gzip("${page}" "${SIPSCOPE_STAGE_DIR}/sipscope.1.gz")
    set(page "${SIPSCOPE_STAGE_DIR}/sipscope.1.gz")
    # The date honours SOURCE_DATE_EPOCH (string(TIMESTAMP)), for reproducible packages.
    string(TIMESTAMP date "%a, %d %b %Y %H:%M:%S +0000" UTC)
    file(WRITE "${SIPSCOPE_STAGE_DIR}/changelog.Debian"
         "sipscope (${SIPSCOPE_DEB_VERSION}) unstable; urgency=medium\n\n"
         "  * Built with CPack from the sipscope sources (scripts/package); the\n"
         "    project's history is its git log.\n\n"
         " -- ${SIPSCOPE_MAINTAINER}  ${date}\n")
    sipscope_gzip("${SIPSCOPE_STAGE_DIR}/changelog.Debian" "${SIPSCOPE_STAGE_DIR}/changelog.Debian.gz")
    file(INSTALL "${SIPSCOPE_STAGE_DIR}/changelog.Debian.gz" DESTINATION "${docdir}")
  endif()
  file(INSTALL "${page}" DESTINATION "${mandir}/man1")
endfunction()
