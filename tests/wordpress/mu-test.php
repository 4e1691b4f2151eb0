<?php
/**
 * Plugin Name: Test machine settings
 * Description: What the real-WordPress test needs of a site that has no mail server and one reader IP.
 */
// Every test comment comes from 127.0.0.1: WordPress's own 15-second flood check would refuse most.
add_filter( 'wp_is_comment_flood', '__return_false', 100 );
// No mail server here: WordPress's notification mails are dropped, not attempted.
add_filter( 'pre_wp_mail', '__return_true' );
