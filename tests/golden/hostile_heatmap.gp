# A pevis figure: run it with gnuplot in the folder that holds it.
reset session
set encoding utf8
set datafile nofpe_trap
set terminal pngcairo noenhanced size 600,400 font 'Sans,11'
set output 'hostile.png'
$pevis_0_0 << EOD
-0.4 -0.257143 -0.114286 0.0285714 0.171429
0.314286 0.457143 -0.4 -0.257143 -0.114286
0.0285714 0.171429 0.314286 0.457143 -0.4
-0.257143 -0.114286 0.0285714 0.171429 0.314286
0.457143 -0.4 -0.257143 -0.114286 0.0285714
0.171429 0.314286 0.457143 -0.4 -0.257143
EOD
set multiplot title 'title with it''s and `touch SENTINEL` and newline' font ',15'
# panel 0
reset
set palette defined (0 '#440154', 1 '#472c7a', 2 '#3b518b', 3 '#2c718e', 4 '#21908d', 5 '#27ad81', 6 '#5cc863', 7 '#aadc32', 8 '#fde725')
set lmargin at screen 0.45875
set rmargin at screen 0.766666667
set tmargin at screen 0.815
set bmargin at screen 0.650625
set title 'panel $(touch SENTINEL)'
set xlabel 'key ''x''' offset 0,-1.215
set ylabel 'query "y"' offset -2.7,0
set xrange [-0.5:4.5]
set yrange [5.5:-0.5]
set cbrange [-0.400000006:0.45714286]
set tics out nomirror
set xtics rotate by 90 right ('$(touch SENTINEL)' 0, '…em(''touch SENTINEL''); ''' 1, 'back\slash\n' 2, 'new line' 3, 'cr tab ' 4)
set ytics ('it''s' 0, 'x"`touch SENTINEL`"y' 2, '…em(''touch SENTINEL''); ''' 4)
set colorbox user origin screen 0.79, screen 0.650625 size screen 0.03, screen 0.164375
set cblabel 'weight `touch SENTINEL`' offset 1,0
plot $pevis_0_0 matrix using (-0.5 + ($1 + 0.5) * 1):(-0.5 + ($2 + 0.5) * 1):3 with image notitle
unset multiplot
unset output
