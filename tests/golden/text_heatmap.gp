# A pevis figure: run it with gnuplot in the folder that holds it.
reset session
set encoding utf8
set datafile nofpe_trap
set terminal dumb noenhanced size 60,20
set output
$pevis_0_0 << EOD
0.052381 0.0285714 0.00476191 -0.0190476 -0.0428571
EOD
set multiplot title 'title with it''s and `touch SENTINEL` and newline'
# panel 0
reset
set palette defined (0 '#440154', 1 '#472c7a', 2 '#3b518b', 3 '#2c718e', 4 '#21908d', 5 '#27ad81', 6 '#5cc863', 7 '#aadc32', 8 '#fde725')
set lmargin at screen 0.45
set rmargin at screen 0.966666667
set tmargin at screen 0.93
set bmargin at screen 0.92
set title 'panel $(touch SENTINEL)'
set xlabel 'key ''x'''
set ylabel 'query "y"'
set label 1000 'drawn box-averaged from 6x5 to 1x5 cells to fit; the data' at screen 0.01, screen 0.145 left
set label 1001 'file has every value' at screen 0.01, screen 0.095 left
set label 1002 'shades '' .:-=+*#%@'' run from -0.400000006 to 0.45714286' at screen 0.01, screen 0.045 left
set xrange [-0.5:4.5]
set yrange [5.5:-0.5]
set cbrange [-0.400000006:0.45714286]
set tics out nomirror
set xtics rotate by 90 right ('$(touch SENTINEL)' 0, '…em(''touch SENTINEL''); ''' 1, 'back\slash\n' 2, 'new line' 3, 'cr tab ' 4)
set ytics ('it''s' 0)
pevis_ramp = ' .:-=+*#%@'
pevis_shade(v) = (v != v) ? ' ' : substr(pevis_ramp, pevis_k(v), pevis_k(v))
pevis_k(v) = 1 + int(9.999 * ((v < -0.400000006) ? 0 : (v > 0.45714286) ? 1 : (v - -0.400000006) / 0.857142866))
plot $pevis_0_0 matrix using (-0.5 + ($1 + 0.5) * 1):(-0.5 + ($2 + 0.5) * 6):(pevis_shade($3)) with labels notitle
unset multiplot
unset output
