# A pevis figure: run it with gnuplot in the folder that holds it.
reset session
set encoding utf8
set datafile nofpe_trap
set terminal svg noenhanced size 800,300 font 'Sans,11' background '#ffffff'
set output 'lines.svg'
$pevis_0_0 << EOD
0 0
1 0.5
2 1
3 0.5
EOD
$pevis_0_1 << EOD
0 1
1 0.5
2 0
3 NaN
EOD
$pevis_1_0 << EOD
0 2
1 3
EOD
set multiplot title 'two panels' font ',15'
# panel 0
reset
set palette defined (0 '#440154', 1 '#472c7a', 2 '#3b518b', 3 '#2c718e', 4 '#21908d', 5 '#27ad81', 6 '#5cc863', 7 '#aadc32', 8 '#fde725')
set lmargin at screen 0.11875
set rmargin at screen 0.2725
set tmargin at screen 0.753333333
set bmargin at screen 0.213333333
set title 'lines'
set xlabel 'position'
set ylabel 'value'
set grid lc rgb '#dddddd'
set autoscale xfix
set xzeroaxis lt -1 lc rgb '#999999'
set xtics 1
set key at screen 0.285, screen 0.753333333 left top vertical Left reverse noautotitle
plot $pevis_0_0 using 1:2 with lines lw 2 title 'dim 0', \
     $pevis_0_1 using 1:2 with lines lw 2 title 'it''s `dim 1`'
# panel 1
reset
set palette defined (0 '#440154', 1 '#472c7a', 2 '#3b518b', 3 '#2c718e', 4 '#21908d', 5 '#27ad81', 6 '#5cc863', 7 '#aadc32', 8 '#fde725')
set lmargin at screen 0.575
set rmargin at screen 0.975
set tmargin at screen 0.753333333
set bmargin at screen 0.133333333
set title 'dots'
set grid lc rgb '#dddddd'
set autoscale xfix
set xzeroaxis lt -1 lc rgb '#999999'
set offsets graph 0.02, graph 0.02, graph 0.04, graph 0.04
set xtics 1
set key at screen 0.9875, screen 0.753333333 left top vertical Left reverse noautotitle
plot $pevis_1_0 using 1:2 with points pt 7 ps 0.8 title ''
unset multiplot
unset output
